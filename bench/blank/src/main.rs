//! A blank Tauri window showing one static page, built with the same profile as Latchkey.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    #[allow(clippy::expect_used)]
    tauri::Builder::default().run(tauri::generate_context!()).expect("error while running the blank window");
}

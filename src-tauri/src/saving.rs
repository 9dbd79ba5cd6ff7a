//! Saving a file where the person chooses: the system's save dialog, then an owner-only file.

use std::path::PathBuf;

use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_dialog::DialogExt;

use crate::error::{Error, Result};

/// Shows the save dialog (in the Downloads folder, `suggested` as the name) and writes `bytes` to
/// the file chosen, readable by its owner only. `None` when the person cancels.
pub async fn save_where_chosen<R: Runtime>(
    app: &AppHandle<R>,
    suggested: &str,
    bytes: Vec<u8>,
) -> Result<Option<PathBuf>> {
    let (chosen, answer) = tokio::sync::oneshot::channel();
    let mut dialog =
        app.dialog().file().set_title("Save your Latchkey data").set_file_name(suggested).add_filter("JSON", &["json"]);
    if let Ok(downloads) = app.path().download_dir() {
        dialog = dialog.set_directory(downloads);
    }
    // Not blocking: the dialog runs on the window's own thread and answers here.
    dialog.save_file(move |path| {
        let _ = chosen.send(path);
    });
    let Some(path) = answer.await.ok().flatten() else { return Ok(None) };
    let path = path.into_path().map_err(|e| Error::internal("the chosen file", e))?;
    let written = path.clone();
    tokio::task::spawn_blocking(move || crate::private_files::replace_private(&written, &bytes)).await?.map_err(
        |e| {
            Error::invalid(
                "request",
                format!("Latchkey could not write {}: {e}. Choose another place.", path.display()),
            )
        },
    )?;
    Ok(Some(path))
}

/// A file name from a username: letters, digits, dot, dash and underscore kept.
pub fn file_name_for(username: &str) -> String {
    let safe: String =
        username.chars().map(|c| if c.is_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect();
    format!("latchkey-data-{}.json", safe.trim_start_matches('.'))
}

#[cfg(test)]
mod tests {
    #[test]
    fn file_names_keep_only_safe_characters() {
        assert_eq!(super::file_name_for("ann.b-c_d"), "latchkey-data-ann.b-c_d.json");
        assert_eq!(super::file_name_for("../x/y"), "latchkey-data-_x_y.json");
    }
}

//! Driving the real app window: tauri-driver (with WebKitWebDriver) under the Xvfb display that
//! `scripts/with-test-services.sh` provides.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use super::{free_port, wait_for_port, Group};

pub const WAIT: Duration = Duration::from_secs(20);
pub const TAB: &str = "\u{E004}";
pub const ENTER: &str = "\u{E007}";

/// One tauri-driver; every `launch` starts the app anew with this environment.
pub struct Driver {
    port: u16,
    _process: Group,
}

impl Driver {
    pub fn start(env: &[(&str, String)]) -> Driver {
        Self::start_logged(env, None)
    }

    /// Like `start`, with the app's (and the drivers') output in `log`.
    pub fn start_logged(env: &[(&str, String)], log: Option<&Path>) -> Driver {
        assert!(std::env::var_os("DISPLAY").is_some(), "no display: run through `make test`");
        let port = free_port();
        let native_port = free_port();
        let mut command = Command::new(tauri_driver());
        command
            .args(["--port", &port.to_string(), "--native-port", &native_port.to_string()])
            .env("RUST_LOG", "warn")
            .envs(env.iter().map(|(k, v)| (k, v)));
        match log {
            Some(path) => {
                let file = std::fs::File::create(path).unwrap();
                command.stdout(file.try_clone().unwrap()).stderr(file);
            }
            None => {
                command.stdout(Stdio::null()).stderr(Stdio::null());
            }
        }
        let process = Group::spawn(&mut command);
        wait_for_port(port, "tauri-driver");
        Driver { port, _process: process }
    }

    /// Starts the app and returns a WebDriver session on its window.
    pub async fn launch(&self) -> Client {
        self.launch_binary(Path::new(env!("CARGO_BIN_EXE_latchkey"))).await
    }

    /// Starts the app from another binary (an installed package, say).
    pub async fn launch_binary(&self, binary: &Path) -> Client {
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("wry"));
        caps.insert("tauri:options".into(), json!({ "application": binary }));
        let url = format!("http://127.0.0.1:{}", self.port);
        // tauri-driver can answer before its native driver listens: retry for a few seconds.
        let deadline = Instant::now() + WAIT;
        loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector).capabilities(caps.clone()).connect(&url).await {
                Ok(client) => return client,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("no WebDriver session: {e}"),
            }
        }
    }
}

fn tauri_driver() -> PathBuf {
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    let cargo_bin = home.join(".cargo/bin/tauri-driver");
    if cargo_bin.exists() {
        cargo_bin
    } else {
        PathBuf::from("tauri-driver")
    }
}

/// Small conveniences over a session, by the element ids of the UI contract.
pub struct Window(pub Client);

impl Window {
    pub async fn el(&self, id: &str) -> fantoccini::elements::Element {
        self.0.wait().at_most(WAIT).for_element(Locator::Id(id)).await.unwrap_or_else(|e| panic!("#{id}: {e}"))
    }

    /// Types into the input, once it takes typing: a screen that is still being shown, or a
    /// form made inert while its request runs, refuses keys for a moment.
    pub async fn fill(&self, id: &str, text: &str) {
        let input = self.el(id).await;
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            match input.clear().await {
                Ok(()) => break,
                Err(e) if std::time::Instant::now() < deadline && format!("{e:?}").contains("NotInteractable") => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("#{id}: {e}"),
            }
        }
        input.send_keys(text).await.unwrap();
    }

    /// Types the three sign-up fields (without submitting).
    pub async fn fill_signup(&self, username: &str, email: &str, password: &str) {
        self.fill("signup-username", username).await;
        self.fill("signup-email", email).await;
        self.fill("signup-password", password).await;
    }

    /// Fills the sign-in form and submits it.
    pub async fn login(&self, identifier: &str, password: &str) {
        self.fill("login-username", identifier).await;
        self.fill("login-password", password).await;
        self.click("login-submit").await;
    }

    pub async fn click(&self, id: &str) {
        self.el(id).await.click().await.unwrap_or_else(|e| panic!("click #{id}: {e}"));
    }

    pub async fn visible(&self, id: &str) -> bool {
        self.el(id).await.is_displayed().await.unwrap_or(false)
    }

    /// Waits until the element with this id is shown.
    pub async fn wait_visible(&self, id: &str) {
        let deadline = std::time::Instant::now() + WAIT;
        while !self.visible(id).await {
            assert!(std::time::Instant::now() < deadline, "{id} was never shown");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the screen with this id is the one shown.
    pub async fn wait_screen(&self, id: &str) {
        let deadline = Instant::now() + WAIT;
        while !self.visible(id).await {
            if Instant::now() > deadline {
                let (text, code) = self.message().await;
                panic!("#{id} never showed; message {text:?} ({code:?})");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The `#message` text and its `data-code` ("" on success), read together in one step so a
    /// message being replaced is never seen half old, half new.
    pub async fn message(&self) -> (String, String) {
        let read = "const m = document.getElementById('message'); return [m.textContent, m.dataset.code || ''];";
        let value = self.js(read).await;
        let part = |i: usize| value[i].as_str().unwrap_or_default().to_string();
        (part(0), part(1))
    }

    /// Waits for `#message` to carry this code ("" for a success) and returns its text.
    pub async fn wait_message(&self, code: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let (text, got) = self.message().await;
            if got == code && !text.is_empty() {
                return text;
            }
            assert!(Instant::now() < deadline, "expected message code {code:?}, have {got:?}: {text:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for the message to say `words` (it can grow after a reply: the keychain's answer
    /// follows a sign-in's).
    pub async fn wait_message_saying(&self, words: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let (text, _) = self.message().await;
            if text.contains(words) {
                return text;
            }
            assert!(Instant::now() < deadline, "expected the message to say {words:?}: {text:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Empties `#message`, so the next `wait_message` sees only what comes after.
    pub async fn clear_message(&self) {
        self.js("document.getElementById('message').textContent = '';").await;
    }

    pub async fn text(&self, id: &str) -> String {
        self.el(id).await.text().await.unwrap_or_default()
    }

    /// A plain WebDriver screenshot, as anyone's tauri-driver test takes one: under automation the
    /// app keeps WebKitGTK's compositing on, so a still screen answers at once (without it, the
    /// screenshot would wait for a frame that never comes). At most 2 s, or the test fails.
    pub async fn plain_screenshot(&self, what: &str) -> Vec<u8> {
        let started = Instant::now();
        let png = tokio::time::timeout(Duration::from_secs(2), self.0.screenshot())
            .await
            .unwrap_or_else(|_| panic!("the screenshot of {what} took more than 2 s"))
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"), "{what}: not a PNG");
        println!("figure: screenshot of {what}: {} ms", started.elapsed().as_millis());
        png
    }

    /// A plain screenshot kept in docs/screenshots for the README.
    pub async fn screenshot(&self, name: &str) {
        let png = self.plain_screenshot(name).await;
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    /// Types into whatever has focus, as a keyboard would. Use `TAB` and `ENTER` for those keys.
    pub async fn keys(&self, keys: &str) {
        self.0.active_element().await.unwrap().send_keys(keys).await.unwrap();
    }

    pub async fn focused_id(&self) -> String {
        self.0.active_element().await.unwrap().attr("id").await.ok().flatten().unwrap_or_default()
    }

    pub async fn attr(&self, id: &str, name: &str) -> Option<String> {
        self.el(id).await.attr(name).await.ok().flatten()
    }

    pub async fn js(&self, script: &str) -> serde_json::Value {
        self.0.execute(script, vec![]).await.unwrap()
    }

    /// Waits until the devices list shows `n` rows; returns each row's (session id, current,
    /// device label).
    pub async fn wait_devices(&self, n: usize) -> Vec<(String, bool, String)> {
        let read = "return [...document.querySelectorAll('#devices-list .device-row')].map(r =>
            [r.dataset.sessionId, r.classList.contains('current'), r.querySelector('strong').textContent]);";
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let rows: Vec<(String, bool, String)> = serde_json::from_value(self.js(read).await).unwrap();
            if rows.len() == n {
                return rows;
            }
            assert!(std::time::Instant::now() < deadline, "{} device rows, not {n}: {rows:?}", rows.len());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs axe-core in the window; fails on any serious or critical violation.
    pub async fn axe(&self, state: &str) {
        let loaded = self.js("return typeof window.axe === 'object';").await;
        if loaded != serde_json::Value::Bool(true) {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/node_modules/axe-core/axe.min.js");
            let source = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e} (scripts/install-deps.sh installs it)", path.display()));
            self.0.execute(&source, vec![]).await.unwrap();
        }
        let run = "const done = arguments[arguments.length - 1];
            axe.run(document, { resultTypes: ['violations'] })
              .then(r => done(r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help,
                  nodes: v.nodes.map(n => n.target.join(' ')) }))))
              .catch(e => done([{ id: 'axe-error', impact: 'critical', help: String(e), nodes: [] }]));";
        let violations = self.0.execute_async(run, vec![]).await.unwrap();
        let bad: Vec<_> = violations
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .collect();
        assert!(bad.is_empty(), "axe, {state}: {bad:#?}");
    }

    pub async fn close(self) {
        self.0.close().await.unwrap();
    }
}

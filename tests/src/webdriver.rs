//! A small WebDriver client for the dashboard's browser tests: the system's
//! `chromedriver` driving headless Chromium, spoken to over HTTP with the workspace's
//! reqwest (no second HTTP stack, no browser download).
//!
//! [`Browser::start`] finds `chromedriver` and `chromium` (or `FIELDBOOK_CHROMEDRIVER` /
//! `FIELDBOOK_CHROMIUM`), starts the driver on a free loopback port with its own temp
//! profile, and opens one session; dropping the [`Browser`] closes the session and ends
//! the driver. Without Chromium, a test skips with a loud message, unless
//! `FIELDBOOK_REQUIRE_BROWSER` is set (CI sets it): then it fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

/// The W3C key of an element reference in WebDriver JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A headless Chromium session.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::blocking::Client,
    _profile: tempfile::TempDir,
}

/// An element of the current page.
#[derive(Clone, Debug)]
pub struct Element(String);

fn find_program(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Ok(p) = std::env::var(env) {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("addr").port()
}

impl Browser {
    /// A browser, or `None` (after saying so loudly on stderr) when Chromium or its driver
    /// is not installed and `FIELDBOOK_REQUIRE_BROWSER` is unset.
    pub fn start() -> Option<Browser> {
        let driver = find_program("FIELDBOOK_CHROMEDRIVER", &["chromedriver"]);
        let chromium = find_program(
            "FIELDBOOK_CHROMIUM",
            &["chromium", "chromium-browser", "google-chrome"],
        );
        let (Some(driver), Some(chromium)) = (driver, chromium) else {
            if std::env::var_os("FIELDBOOK_REQUIRE_BROWSER").is_some() {
                panic!(
                    "FIELDBOOK_REQUIRE_BROWSER is set but chromium/chromedriver are not \
                     installed (apt-get install chromium chromium-driver)"
                );
            }
            eprintln!(
                "\n!!!!!!!!\n!!! SKIPPED: browser test needs chromium and chromedriver \
                 (apt-get install chromium chromium-driver); set FIELDBOOK_REQUIRE_BROWSER \
                 to make this a failure\n!!!!!!!!\n"
            );
            return None;
        };
        Some(Browser::launch(&driver, &chromium))
    }

    fn launch(driver: &Path, chromium: &Path) -> Browser {
        let port = free_port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("http client");
        let profile = tempfile::tempdir().expect("profile dir");
        let mut browser = Browser {
            driver: child,
            base,
            session: String::new(),
            http,
            _profile: profile,
        };
        browser.wait_ready();
        let capabilities = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": chromium.to_string_lossy(),
                    "args": [
                        "--headless=new", "--no-sandbox", "--disable-gpu",
                        "--disable-dev-shm-usage", "--window-size=1280,900",
                        "--lang=zh-CN", "--no-first-run",
                        format!("--user-data-dir={}", browser._profile.path().display()),
                    ],
                },
            }},
        });
        let created = browser.post_raw("/session", &capabilities);
        browser.session = created["sessionId"]
            .as_str()
            .expect("a WebDriver session id")
            .to_owned();
        // Elements appear with the page; a short implicit wait covers a slow first paint.
        browser.command("POST", "/timeouts", &json!({ "implicit": 3000 }));
        browser
    }

    /// Waits (a bounded number of polls) for the driver to accept sessions.
    fn wait_ready(&self) {
        for _ in 0..200 {
            if let Ok(r) = self.http.get(format!("{}/status", self.base)).send()
                && let Ok(v) = r.json::<Value>()
                && v["value"]["ready"] == json!(true)
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("chromedriver did not become ready");
    }

    fn post_raw(&self, path: &str, body: &Value) -> Value {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .expect("WebDriver request");
        let value: Value = response.json().expect("WebDriver JSON");
        if value["value"]["error"].is_string() {
            panic!("WebDriver {path}: {}", value["value"]);
        }
        value["value"].clone()
    }

    /// One WebDriver command of this session; panics on a WebDriver error.
    pub fn command(&self, method: &str, path: &str, body: &Value) -> Value {
        self.try_command(method, path, body)
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"))
    }

    /// One WebDriver command; a WebDriver error comes back as its JSON.
    pub fn try_command(&self, method: &str, path: &str, body: &Value) -> Result<Value, Value> {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let request = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(body),
        };
        let value: Value = request
            .send()
            .expect("WebDriver request")
            .json()
            .expect("WebDriver JSON");
        let value = value["value"].clone();
        if value["error"].is_string() {
            Err(value)
        } else {
            Ok(value)
        }
    }

    /// Opens a URL and waits for the page to load.
    pub fn goto(&self, url: &str) {
        self.command("POST", "/url", &json!({ "url": url }));
    }

    /// The current page's URL.
    pub fn url(&self) -> String {
        self.command("GET", "/url", &json!({}))
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The first element matching a CSS selector; panics if there is none.
    pub fn find(&self, css: &str) -> Element {
        match self.try_command(
            "POST",
            "/element",
            &json!({ "using": "css selector", "value": css }),
        ) {
            Ok(found) => match found[ELEMENT_KEY].as_str() {
                Some(id) => Element(id.to_owned()),
                None => panic!("no element {css:?} on {}: {found}", self.url()),
            },
            Err(e) => panic!("no element {css:?} on {}: {}", self.url(), e["message"]),
        }
    }

    /// The first element matching a CSS selector, if any (after the implicit wait).
    pub fn try_find(&self, css: &str) -> Option<Element> {
        let found = self
            .try_command(
                "POST",
                "/element",
                &json!({ "using": "css selector", "value": css }),
            )
            .ok()?;
        found[ELEMENT_KEY].as_str().map(|id| Element(id.to_owned()))
    }

    /// Every element matching a CSS selector.
    pub fn find_all(&self, css: &str) -> Vec<Element> {
        self.command(
            "POST",
            "/elements",
            &json!({ "using": "css selector", "value": css }),
        )
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e[ELEMENT_KEY].as_str())
                .map(|id| Element(id.to_owned()))
                .collect()
        })
        .unwrap_or_default()
    }

    /// Clicks an element (a submit button waits for the next page).
    pub fn click(&self, el: &Element) {
        self.command("POST", &format!("/element/{}/click", el.0), &json!({}));
    }

    /// Clicks a button or link that loads another page, and waits until the new page has
    /// loaded (the old document carries a mark the new one lacks).
    pub fn click_and_wait(&self, el: &Element) {
        self.script("window.__fieldbook_old_page = true; return null");
        self.click(el);
        for _ in 0..400 {
            let loaded = self.try_command(
                "POST",
                "/execute/sync",
                &json!({
                    "script": "return window.__fieldbook_old_page === undefined \
                               && document.readyState === 'complete'",
                    "args": [],
                }),
            );
            if loaded == Ok(json!(true)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("the page after the click did not load");
    }

    /// Types text into an element (after clearing it).
    pub fn type_into(&self, el: &Element, text: &str) {
        self.command("POST", &format!("/element/{}/clear", el.0), &json!({}));
        self.command(
            "POST",
            &format!("/element/{}/value", el.0),
            &json!({ "text": text }),
        );
    }

    /// Picks the `<option>` with this value in a `<select>`.
    pub fn select(&self, select_css: &str, value: &str) {
        let option = self.find(&format!("{select_css} option[value=\"{value}\"]"));
        self.click(&option);
    }

    /// An element's rendered text.
    pub fn text(&self, el: &Element) -> String {
        self.command("GET", &format!("/element/{}/text", el.0), &json!({}))
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The rendered text of the first element matching `css`.
    pub fn text_of(&self, css: &str) -> String {
        self.text(&self.find(css))
    }

    /// Runs a script in the page (WebDriver's, not the page's: the CSP does not apply)
    /// and returns its value: how a test reads the live DOM.
    pub fn script(&self, body: &str) -> Value {
        self.command(
            "POST",
            "/execute/sync",
            &json!({ "script": body, "args": [] }),
        )
    }

    /// Writes a PNG screenshot of the viewport to `target/screenshots/<name>.png`
    /// (not committed: for a person to look at) and returns its path.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let encoded = self.command("GET", "/screenshot", &json!({}));
        let png = decode_base64(encoded.as_str().expect("screenshot base64"));
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// Sets the window size (e.g. a tablet's 820×1180).
    pub fn resize(&self, width: u32, height: u32) {
        self.command(
            "POST",
            "/window/rect",
            &json!({ "width": width, "height": height }),
        );
    }

    /// Forgets every cookie (signs the browser out without a logout).
    pub fn clear_cookies(&self) {
        self.command("DELETE", "/cookie", &json!({}));
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self
                .http
                .delete(format!("{}/session/{}", self.base, self.session))
                .send();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// `target/screenshots` of the workspace (or of `CARGO_TARGET_DIR`).
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("screenshots")
}

/// Standard base64 (RFC 4648, with padding), as WebDriver sends screenshots.
fn decode_base64(text: &str) -> Vec<u8> {
    fn value(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for v in text.bytes().filter_map(value) {
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::decode_base64;

    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(decode_base64("iVBORw=="), b"\x89PNG");
        assert_eq!(decode_base64("5byg5Lyf"), "张伟".as_bytes());
        assert_eq!(decode_base64("YQ"), b"a");
    }
}

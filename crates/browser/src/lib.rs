//! A headless Chromium driven over the DevTools protocol, for the quiz page's end-to-end tests
//! and its benchmark. The protocol runs over `--remote-debugging-pipe` (JSON messages ended by
//! a NUL byte, read by Chromium on file descriptor 3 and written on 4), so no port, no HTTP and
//! no WebSocket crate are needed: the whole client is this file.
//!
//! One [`Browser`] is one Chromium process with a fresh profile and one page, which is all
//! the tests need. Every wait has a deadline; a browser that stops answering is an error, not
//! a hung test.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How long one protocol call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// What went wrong talking to the browser.
#[derive(Debug)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

fn error(message: impl Into<String>) -> Error {
    Error(message.into())
}

/// The Chromium to run: `$CHROMIUM` when set, else the first of Debian's and the usual names
/// on `PATH`.
pub fn find() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| {
            ["chromium", "chromium-browser", "google-chrome", "chrome"].map(|n| dir.join(n))
        })
        .find(|p| p.is_file())
}

/// Hands Chromium the two pipes as its file descriptors 3 (commands) and 4 (replies), where
/// `--remote-debugging-pipe` expects them.
#[cfg(unix)]
fn pipe_to_fds_3_and_4(
    command: &mut Command,
    commands: &std::io::PipeReader,
    replies: &std::io::PipeWriter,
) -> Result<(), Error> {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let (read_fd, write_fd) = (commands.as_raw_fd(), replies.as_raw_fd());
    // SAFETY: between fork and exec only async-signal-safe calls (fcntl, dup2, close) run.
    unsafe {
        command.pre_exec(move || {
            // Move both ends above 3 and 4 first, so placing one cannot close the other.
            let high_read = libc::fcntl(read_fd, libc::F_DUPFD, 10);
            let high_write = libc::fcntl(write_fd, libc::F_DUPFD, 10);
            if high_read < 0
                || high_write < 0
                || libc::dup2(high_read, 3) < 0
                || libc::dup2(high_write, 4) < 0
            {
                return Err(std::io::Error::last_os_error());
            }
            libc::close(high_read);
            libc::close(high_write);
            Ok(())
        });
    }
    Ok(())
}

/// Elsewhere a child cannot be handed descriptors 3 and 4: the browser tests run on Unix.
#[cfg(not(unix))]
fn pipe_to_fds_3_and_4(
    _command: &mut Command,
    _commands: &std::io::PipeReader,
    _replies: &std::io::PipeWriter,
) -> Result<(), Error> {
    Err(error(
        "driving Chromium over --remote-debugging-pipe needs Unix (file descriptors 3 and 4)",
    ))
}

/// A headless Chromium with one page.
pub struct Browser {
    child: Child,
    commands: std::io::PipeWriter,
    messages: Receiver<Value>,
    session: String,
    next_id: u64,
    _profile: tempfile::TempDir,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser")
            .field("pid", &self.child.id())
            .finish()
    }
}

impl Browser {
    /// Starts `chromium` headless with a fresh profile and a window `width`×`height` pixels,
    /// and attaches to its page.
    pub fn launch(chromium: &Path, width: u32, height: u32) -> Result<Browser, Error> {
        let profile = tempfile::tempdir().map_err(|e| error(format!("a profile folder: {e}")))?;
        let (their_commands, commands) =
            std::io::pipe().map_err(|e| error(format!("a pipe: {e}")))?;
        let (replies, their_replies) =
            std::io::pipe().map_err(|e| error(format!("a pipe: {e}")))?;
        let mut command = Command::new(chromium);
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--no-first-run",
                "--no-default-browser-check",
                "--mute-audio",
                "--hide-scrollbars",
                "--remote-debugging-pipe",
            ])
            .arg(format!("--window-size={width},{height}"))
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        pipe_to_fds_3_and_4(&mut command, &their_commands, &their_replies)?;
        let child = command
            .spawn()
            .map_err(|e| error(format!("could not start `{}`: {e}", chromium.display())))?;
        drop(their_commands);
        drop(their_replies);
        let (send, messages) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(replies);
            let mut buffer = Vec::new();
            loop {
                buffer.clear();
                match reader.read_until(0, &mut buffer) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        if buffer.last() == Some(&0) {
                            buffer.pop();
                        }
                        if let Ok(message) = serde_json::from_slice::<Value>(&buffer)
                            && send.send(message).is_err()
                        {
                            return;
                        }
                    }
                }
            }
        });
        let mut browser = Browser {
            child,
            commands,
            messages,
            session: String::new(),
            next_id: 0,
            _profile: profile,
        };
        let deadline = Instant::now() + CALL_TIMEOUT;
        let target = loop {
            let targets = browser.send(None, "Target.getTargets", json!({}))?;
            let page = targets["targetInfos"]
                .as_array()
                .and_then(|t| t.iter().find(|t| t["type"] == "page"))
                .and_then(|t| t["targetId"].as_str())
                .map(String::from);
            match page {
                Some(page) => break page,
                None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
                None => return Err(error("Chromium opened no page")),
            }
        };
        let attached = browser.send(
            None,
            "Target.attachToTarget",
            json!({ "targetId": target, "flatten": true }),
        )?;
        browser.session = attached["sessionId"]
            .as_str()
            .ok_or_else(|| error("no session for the page"))?
            .to_string();
        browser.call("Page.enable", json!({}))?;
        Ok(browser)
    }

    fn send(&mut self, session: Option<&str>, method: &str, params: Value) -> Result<Value, Error> {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        let mut bytes = serde_json::to_vec(&message).map_err(|e| error(e.to_string()))?;
        bytes.push(0);
        self.commands
            .write_all(&bytes)
            .map_err(|e| error(format!("Chromium stopped reading commands: {e}")))?;
        let deadline = Instant::now() + CALL_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.messages.recv_timeout(left) {
                Ok(reply) if reply["id"] == id => {
                    if let Some(problem) = reply.get("error") {
                        return Err(error(format!("{method}: {problem}")));
                    }
                    return Ok(reply["result"].clone());
                }
                // Events and other replies are not waited for.
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => {
                    return Err(error(format!("{method}: no answer in {CALL_TIMEOUT:?}")));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(error(format!("{method}: Chromium exited")));
                }
            }
        }
    }

    /// Calls a protocol method on the page.
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value, Error> {
        let session = self.session.clone();
        self.send(Some(&session), method, params)
    }

    /// Opens `url` (and does not wait: see [`Browser::wait_for`]).
    pub fn navigate(&mut self, url: &str) -> Result<(), Error> {
        let result = self.call("Page.navigate", json!({ "url": url }))?;
        match result.get("errorText").and_then(Value::as_str) {
            Some(problem) if !problem.is_empty() => Err(error(format!("opening {url}: {problem}"))),
            _ => Ok(()),
        }
    }

    /// Reloads the page.
    pub fn reload(&mut self) -> Result<(), Error> {
        self.call("Page.reload", json!({})).map(drop)
    }

    /// Evaluates JavaScript in the page, awaiting a promise, and returns its value as JSON.
    /// An exception is an error with its message.
    pub fn eval(&mut self, expression: &str) -> Result<Value, Error> {
        let result = self.call(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true, "awaitPromise": true, "userGesture": true }),
        )?;
        if let Some(exception) = result.get("exceptionDetails") {
            let text = exception["exception"]["description"]
                .as_str()
                .or_else(|| exception["text"].as_str())
                .unwrap_or("an exception");
            return Err(error(format!("`{expression}` threw: {text}")));
        }
        Ok(result["result"]["value"].clone())
    }

    /// Evaluates `expression` until it is truthy, and returns that value.
    pub fn wait_for(&mut self, expression: &str, timeout: Duration) -> Result<Value, Error> {
        let deadline = Instant::now() + timeout;
        loop {
            // Between navigations there is briefly no context to evaluate in.
            let value = self.eval(expression).unwrap_or(Value::Null);
            let truthy = match &value {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                return Ok(value);
            }
            if Instant::now() >= deadline {
                return Err(error(format!(
                    "`{expression}` was not true within {timeout:?}"
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Presses a key as a keyboard would: `Tab`, `Enter`, `Space`, `ArrowDown`, ... with
    /// `shift` for Shift+key.
    pub fn press(&mut self, key: &str, shift: bool) -> Result<(), Error> {
        let (key_name, code, vk, text) = match key {
            "Tab" => ("Tab", "Tab", 9, ""),
            "Enter" => ("Enter", "Enter", 13, "\r"),
            "Space" => (" ", "Space", 32, " "),
            "ArrowDown" => ("ArrowDown", "ArrowDown", 40, ""),
            "ArrowUp" => ("ArrowUp", "ArrowUp", 38, ""),
            other => return Err(error(format!("no key `{other}`"))),
        };
        let modifiers = if shift { 8 } else { 0 };
        let down = if text.is_empty() {
            "rawKeyDown"
        } else {
            "keyDown"
        };
        self.call(
            "Input.dispatchKeyEvent",
            json!({ "type": down, "key": key_name, "code": code, "windowsVirtualKeyCode": vk,
                    "text": text, "unmodifiedText": text, "modifiers": modifiers }),
        )?;
        self.call(
            "Input.dispatchKeyEvent",
            json!({ "type": "keyUp", "key": key_name, "code": code, "windowsVirtualKeyCode": vk, "modifiers": modifiers }),
        )?;
        Ok(())
    }

    /// Types text into the focused control.
    pub fn type_text(&mut self, text: &str) -> Result<(), Error> {
        self.call("Input.insertText", json!({ "text": text }))
            .map(drop)
    }

    /// Makes the page `width`×`height` CSS pixels, as a phone's when `mobile`.
    pub fn viewport(&mut self, width: u32, height: u32, mobile: bool) -> Result<(), Error> {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile }),
        )
        .map(drop)
    }

    /// Writes a PNG of the whole page (not only the window) to `path`.
    pub fn screenshot(&mut self, path: &Path) -> Result<(), Error> {
        use base64::Engine as _;
        let shot = self.call(
            "Page.captureScreenshot",
            json!({ "format": "png", "captureBeyondViewport": true }),
        )?;
        let data = shot["data"]
            .as_str()
            .ok_or_else(|| error("no screenshot"))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| error(format!("a screenshot that is not base64: {e}")))?;
        std::fs::write(path, bytes).map_err(|e| error(format!("writing `{}`: {e}", path.display())))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.send(None, "Browser.close", json!({}));
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `file://` URL for a local path.
pub fn file_url(path: &Path) -> String {
    let mut url = String::from("file://");
    for byte in path.to_string_lossy().bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                url.push(byte as char)
            }
            other => url.push_str(&format!("%{other:02X}")),
        }
    }
    url
}

//! The operator's cookie for a registry that only answers a browser (kad: `wasm`, `pr_fp`
//! and DDoS-Guard's `__ddg*`, which expire within minutes, registries.md §16): the
//! configured `cookie`, replaced by what `cookie_command` prints when it is missing or
//! expired. The command runs at most once per `cookie_refresh_s`, under a timeout, and
//! what it prints is never logged.

use crate::sources::settings::SourceSettings;
use std::process::Stdio;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::time::Instant;

pub struct SessionCookie {
    command: String,
    refresh_every: Duration,
    timeout: Duration,
    value: RwLock<Option<String>>,
    /// When the command last ran; held while it runs, so concurrent flows wait for one run.
    last_run: tokio::sync::Mutex<Option<Instant>>,
}

impl SessionCookie {
    pub fn new(settings: &SourceSettings) -> SessionCookie {
        let configured = settings.cookie.expose().trim();
        SessionCookie {
            command: settings.cookie_command.trim().to_owned(),
            refresh_every: Duration::from_secs(settings.cookie_refresh_s),
            timeout: Duration::from_millis(settings.cookie_command_timeout_ms),
            value: RwLock::new((!configured.is_empty()).then(|| configured.to_owned())),
            last_run: tokio::sync::Mutex::new(None),
        }
    }

    /// The `Cookie` header value to send, if there is one.
    pub fn current(&self) -> Option<String> {
        match self.value.read() {
            Ok(v) => v.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set(&self, cookie: String) {
        match self.value.write() {
            Ok(mut v) => *v = Some(cookie),
            Err(poisoned) => *poisoned.into_inner() = Some(cookie),
        }
    }

    /// A command is configured that can give a fresh cookie.
    pub fn can_refresh(&self) -> bool {
        !self.command.is_empty()
    }

    /// Runs the command unless it ran within `cookie_refresh_s`. True when the cookie is
    /// now different from `stale` (this call or a concurrent one replaced it).
    pub async fn refresh(self: &Arc<Self>, stale: Option<&str>) -> bool {
        if !self.can_refresh() {
            return false;
        }
        let mut last_run = self.last_run.lock().await;
        if self.current().as_deref() != stale {
            return true;
        }
        if last_run.is_some_and(|at| at.elapsed() < self.refresh_every) {
            return false;
        }
        *last_run = Some(Instant::now());
        // Its own task: a flow that times out while waiting does not kill the command,
        // and the next flow gets the cookie it prints.
        let this = Arc::clone(self);
        match tokio::spawn(async move { this.run_command().await }).await {
            Ok(Some(cookie)) => {
                self.set(cookie);
                true
            }
            _ => false,
        }
    }

    async fn run_command(&self) -> Option<String> {
        let child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(&self.command)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn();
        let child = match child {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "cookie command could not start");
                return None;
            }
        };
        let output = match tokio::time::timeout(self.timeout, child.wait_with_output()).await {
            Err(_) => {
                tracing::warn!(timeout = ?self.timeout, "cookie command timed out and was killed");
                return None;
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cookie command failed");
                return None;
            }
            Ok(Ok(output)) => output,
        };
        if !output.status.success() {
            tracing::warn!(code = ?output.status.code(), "cookie command failed");
            return None;
        }
        match cookie_from_output(&output.stdout) {
            Some(cookie) => {
                tracing::info!("cookie command gave a fresh cookie");
                Some(cookie)
            }
            None => {
                tracing::warn!("cookie command printed no cookie");
                None
            }
        }
    }
}

/// The first non-empty line, without a `Cookie:` prefix, if it looks like `name=value`.
fn cookie_from_output(stdout: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(stdout);
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    let value = match line.split_once(':') {
        Some((name, rest)) if name.trim().eq_ignore_ascii_case("cookie") => rest.trim(),
        _ => line,
    };
    (value.contains('=') && !value.contains(['\r', '\n'])).then(|| value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_first_line_with_or_without_a_header_name() {
        assert_eq!(
            cookie_from_output(b"\nwasm=ab12; pr_fp=cd34\nnoise\n").as_deref(),
            Some("wasm=ab12; pr_fp=cd34")
        );
        assert_eq!(
            cookie_from_output(b"Cookie: wasm=ab12").as_deref(),
            Some("wasm=ab12")
        );
        assert_eq!(cookie_from_output(b"error: no browser\n"), None);
        assert_eq!(cookie_from_output(b""), None);
    }

    fn session(command: &str, refresh_s: u64) -> Arc<SessionCookie> {
        let mut s = SourceSettings::registry("http://127.0.0.1:1");
        s.cookie = crate::domain::Secret::new("wasm=old");
        s.cookie_command = command.into();
        s.cookie_refresh_s = refresh_s;
        s.cookie_command_timeout_ms = 2_000;
        Arc::new(SessionCookie::new(&s))
    }

    #[tokio::test]
    async fn a_refresh_replaces_the_cookie_at_most_once_per_interval() {
        let count = std::env::temp_dir().join(format!(
            "kontragent-cookie-runs-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        let cmd = format!(
            "echo run >> {0}; echo \"wasm=new$(wc -l < {0} | tr -d ' ')\"",
            count.display()
        );
        let s = session(&cmd, 3600);
        assert_eq!(s.current().as_deref(), Some("wasm=old"));
        assert!(s.refresh(Some("wasm=old")).await);
        assert_eq!(s.current().as_deref(), Some("wasm=new1"));
        // Expired again at once: the command ran within the interval, so it is not run.
        assert!(!s.refresh(Some("wasm=new1")).await);
        // A flow that still holds the old value sees that a fresh one is there.
        assert!(s.refresh(Some("wasm=old")).await);
        assert_eq!(std::fs::read_to_string(&count).unwrap().lines().count(), 1);
        let _ = std::fs::remove_file(&count);
    }

    #[tokio::test]
    async fn a_failing_silent_or_slow_command_keeps_the_old_cookie() {
        for cmd in ["exit 3", "true", "sleep 5; echo wasm=late"] {
            let s = session(cmd, 0);
            assert!(!s.refresh(Some("wasm=old")).await, "{cmd}");
            assert_eq!(s.current().as_deref(), Some("wasm=old"), "{cmd}");
        }
        assert!(!session("", 0).refresh(Some("wasm=old")).await);
    }
}

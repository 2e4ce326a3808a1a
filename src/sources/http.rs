//! The HTTP side shared by adapters: one client, per-flow cookies, capped bodies,
//! evidence of every answer, and the mapping of failure shapes to [`SourceError`].

use super::session::SessionCookie;
use super::{Findings, SourceError};
use crate::sources::settings::SourceSettings;
use chrono::{DateTime, Utc};
use reqwest::header::{COOKIE, SET_COOKIE};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// A browser-like agent: the registries serve their own web front ends.
const USER_AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";

/// Longest pause a `Retry-After` may impose on one flow.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// A raw registry answer, kept with its hash as evidence of what the service saw.
#[derive(Debug, Clone)]
pub struct Evidence {
    pub url: String,
    pub http_status: u16,
    pub sha256: String,
    pub body: Vec<u8>,
    pub received_at: DateTime<Utc>,
}

impl Evidence {
    pub fn new(url: String, http_status: u16, body: Vec<u8>) -> Evidence {
        Evidence {
            url,
            http_status,
            sha256: hex::encode(Sha256::digest(&body)),
            body,
            received_at: Utc::now(),
        }
    }
}

/// The client, address and request policy of one registry.
#[derive(Clone)]
pub struct RegistryHttp {
    client: reqwest::Client,
    base_url: String,
    max_body_bytes: usize,
    request_timeout: Duration,
    max_attempts: u32,
    retry_base: Duration,
    request_gap: Duration,
    retry_rate_limited: bool,
    /// The operator's cookie (configured, or printed by the cookie command).
    pub session: Arc<SessionCookie>,
}

/// A proxy URL as reqwest takes it, or why it cannot be one. The message never repeats
/// the URL: it may hold a password.
pub fn proxy_url(raw: &str) -> Result<reqwest::Proxy, String> {
    let url = url::Url::parse(raw.trim()).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https" | "socks5" | "socks5h") {
        return Err("the scheme must be http, https, socks5 or socks5h".into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".into());
    }
    reqwest::Proxy::all(url.as_str()).map_err(|_| "reqwest refuses this proxy URL".into())
}

impl RegistryHttp {
    /// The client of a registry; through `proxy` when given, else directly (the
    /// environment's `HTTP_PROXY` is not read: the config says where requests go).
    pub fn new(
        settings: &SourceSettings,
        proxy: Option<&crate::domain::Secret>,
    ) -> Result<RegistryHttp, reqwest::Error> {
        let mut builder = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(Duration::from_millis(settings.connect_timeout_ms))
            .redirect(reqwest::redirect::Policy::limited(3))
            .no_proxy();
        if let Some(proxy) = proxy.and_then(|p| proxy_url(p.expose()).ok()) {
            builder = builder.proxy(proxy);
        }
        Ok(RegistryHttp {
            client: builder.build()?,
            base_url: settings.base_url.trim_end_matches('/').to_owned(),
            max_body_bytes: settings.max_body_bytes,
            request_timeout: Duration::from_millis(settings.request_timeout_ms),
            max_attempts: settings.max_attempts.max(1),
            retry_base: Duration::from_millis(settings.retry_base_ms),
            request_gap: Duration::from_millis(settings.request_gap_ms),
            retry_rate_limited: settings.retry_rate_limited,
            session: Arc::new(SessionCookie::new(settings)),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }
}

/// One run of a registry's flow for one INN: the cookies of its session, the answers
/// it received and what it has learned so far.
pub struct Flow {
    http: RegistryHttp,
    /// The operator's cookie as it was when the flow started.
    session_cookie: Option<String>,
    cookies: BTreeMap<String, String>,
    last_request: Option<tokio::time::Instant>,
    evidence: Vec<Evidence>,
    pub findings: Findings,
    pub poll_interval: Duration,
    pub max_polls: u32,
    /// Pages to read at most in paged answers.
    pub max_pages: u32,
}

impl Flow {
    pub fn new(http: RegistryHttp, settings: &SourceSettings) -> Flow {
        Flow {
            session_cookie: http.session.current(),
            http,
            cookies: BTreeMap::new(),
            last_request: None,
            evidence: Vec::new(),
            findings: Findings::default(),
            poll_interval: Duration::from_millis(settings.poll_interval_ms),
            max_polls: settings.max_polls.max(1),
            max_pages: settings.max_pages.max(1),
        }
    }

    /// The operator's cookie for this source (configured or from its command), if any.
    pub fn configured_cookie(&self) -> Option<&str> {
        self.session_cookie.as_deref()
    }

    /// Keeps the answers an earlier run of the flow received, before this run's.
    pub fn keep_evidence_of(&mut self, earlier: Flow) {
        let mut evidence = earlier.evidence;
        evidence.append(&mut self.evidence);
        self.evidence = evidence;
    }

    pub fn into_parts(self) -> (Findings, Vec<Evidence>) {
        (self.findings, self.evidence)
    }

    pub async fn pause(&self) {
        tokio::time::sleep(self.poll_interval).await;
    }

    /// POSTs a form and returns the JSON answer.
    pub async fn post_form(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Result<serde_json::Value, SourceError> {
        let url = self.http.url(path);
        let client = self.http.client.clone();
        let body = self
            .send(|| client.post(&url).form(form), &url, headers, Expect::Json)
            .await?;
        parse_json(&body)
    }

    /// POSTs a JSON body and returns the raw answer, which may be an HTML fragment (kad).
    pub async fn post_json_for_html(
        &mut self,
        path: &str,
        body: &serde_json::Value,
        headers: &[(&str, &str)],
    ) -> Result<Vec<u8>, SourceError> {
        let url = self.http.url(path);
        let client = self.http.client.clone();
        self.send(|| client.post(&url).json(body), &url, headers, Expect::Html)
            .await
    }

    /// GETs a path (with its query) and returns the JSON answer.
    pub async fn get_json(
        &mut self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<serde_json::Value, SourceError> {
        let url = self.http.url(path);
        let client = self.http.client.clone();
        let body = self
            .send(|| client.get(&url), &url, headers, Expect::Json)
            .await?;
        parse_json(&body)
    }

    /// GETs a page only for the session cookies it sets; its failure is not the flow's.
    pub async fn warm_up(&mut self, path: &str, headers: &[(&str, &str)]) {
        let url = self.http.url(path);
        let req = self.http.client.get(&url);
        if let Err(e) = self.send_once(req, url, headers, Expect::Html).await {
            tracing::debug!(error = %e, "warm-up request failed");
        }
    }

    /// Sends with retries: connect errors, timeouts, 429 (after its `Retry-After`) and
    /// 502/503/504 are tried again with full-jitter exponential backoff; a captcha, an
    /// anti-bot page or any other answer is final.
    async fn send(
        &mut self,
        request: impl Fn() -> reqwest::RequestBuilder,
        url: &str,
        headers: &[(&str, &str)],
        expect: Expect,
    ) -> Result<Vec<u8>, SourceError> {
        use backon::BackoffBuilder;
        let mut delays = backon::ExponentialBuilder::default()
            .with_min_delay(self.http.retry_base)
            .with_max_delay(Duration::from_secs(10))
            .with_max_times((self.http.max_attempts - 1) as usize)
            .build();
        loop {
            let error = match self
                .send_once(request(), url.to_owned(), headers, expect)
                .await
            {
                Ok(body) => return Ok(body),
                Err(e @ SourceError::TooManyRequests { .. }) if !self.http.retry_rate_limited => {
                    return Err(e);
                }
                Err(e) if e.is_transient() => e,
                Err(e) => return Err(e),
            };
            let Some(delay) = delays.next() else {
                return Err(error);
            };
            // Full jitter: anywhere between 0 and the exponential delay.
            let mut pause = Duration::from_millis(fastrand::u64(0..=delay.as_millis() as u64));
            if let SourceError::TooManyRequests {
                retry_after_s: Some(s),
            } = error
            {
                pause = pause.max(Duration::from_secs(s)).min(MAX_RETRY_AFTER);
            }
            tracing::debug!(url, error = %error, ?pause, "retrying");
            tokio::time::sleep(pause).await;
        }
    }

    async fn send_once(
        &mut self,
        mut req: reqwest::RequestBuilder,
        url: String,
        headers: &[(&str, &str)],
        expect: Expect,
    ) -> Result<Vec<u8>, SourceError> {
        // Spaced by `request_gap_ms` from the flow's previous request.
        if let Some(last) = self.last_request {
            tokio::time::sleep_until(last + self.http.request_gap).await;
        }
        self.last_request = Some(tokio::time::Instant::now());
        req = req.timeout(self.http.request_timeout);
        // The operator's cookie (a secret) first, then what this flow's answers set.
        let jar: Vec<String> = self
            .session_cookie
            .clone()
            .into_iter()
            .chain(self.cookies.iter().map(|(k, v)| format!("{k}={v}")))
            .collect();
        if !jar.is_empty() {
            req = req.header(COOKIE, jar.join("; "));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let mut resp = req.send().await.map_err(map_reqwest_error)?;
        let retry_after_s = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        for value in resp.headers().get_all(SET_COOKIE) {
            if let Some((name, val)) = value
                .to_str()
                .ok()
                .and_then(|s| s.split(';').next())
                .and_then(|pair| pair.split_once('='))
            {
                self.cookies
                    .insert(name.trim().to_owned(), val.trim().to_owned());
            }
        }
        let status = resp.status().as_u16();
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(map_reqwest_error)? {
            if body.len() + chunk.len() > self.http.max_body_bytes {
                self.evidence.push(Evidence::new(url, status, body));
                return Err(SourceError::TooLarge(self.http.max_body_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        self.evidence.push(Evidence::new(url, status, body.clone()));
        match classify(status, &body, expect) {
            Err(SourceError::Http(429)) => Err(SourceError::TooManyRequests { retry_after_s }),
            Err(e) => Err(e),
            Ok(()) => Ok(body),
        }
    }
}

fn map_reqwest_error(e: reqwest::Error) -> SourceError {
    if e.is_timeout() {
        SourceError::Timeout
    } else if e.is_connect() {
        SourceError::Network("connect".into())
    } else if e.is_decode() || e.is_body() {
        SourceError::Garbage("body could not be read".into())
    } else {
        SourceError::Network(e.without_url().to_string())
    }
}

/// Lower-cased markers of a captcha page.
const CAPTCHA_MARKERS: &[&str] = &["captcha", "капч"];
/// Lower-cased markers of an anti-bot interstitial (DDoS-Guard, Qrator, generic WAFs).
const BLOCK_MARKERS: &[&str] = &[
    "ddos-guard",
    "ddos guard",
    "qrator",
    "checking your browser",
    "access denied",
    "доступ ограничен",
    "доступ запрещен",
];

/// What a request should get back: JSON, or HTML that is the answer itself (kad).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Json,
    Html,
}

/// Maps the HTTP status and the look of a body to a failure, if it is one.
fn classify(status: u16, body: &[u8], expect: Expect) -> Result<(), SourceError> {
    let looks_html = body
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'<');
    let text = || String::from_utf8_lossy(&body[..body.len().min(64 * 1024)]).to_lowercase();
    if !(200..300).contains(&status) {
        if looks_html {
            let t = text();
            if CAPTCHA_MARKERS.iter().any(|m| t.contains(m)) {
                return Err(SourceError::Captcha);
            }
        }
        // nalog.ru answers a captcha or a refused query as HTTP 400 with a JSON
        // `{"ERRORS": …}` body (registries.md §16): the body says why, not the status.
        if let Ok(answer) = serde_json::from_slice::<serde_json::Value>(body) {
            super::shared::reject_captcha_or_errors(&answer)?;
        }
        return Err(SourceError::Http(status));
    }
    if looks_html {
        let t = text();
        if CAPTCHA_MARKERS.iter().any(|m| t.contains(m)) {
            return Err(SourceError::Captcha);
        }
        if BLOCK_MARKERS.iter().any(|m| t.contains(m)) {
            return Err(SourceError::Blocked);
        }
        if expect == Expect::Json {
            return Err(SourceError::Garbage("HTML instead of JSON".into()));
        }
    }
    Ok(())
}

fn parse_json(body: &[u8]) -> Result<serde_json::Value, SourceError> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        // Some registries answer an empty body while a result is not ready.
        return Ok(serde_json::Value::Null);
    }
    serde_json::from_slice(body).map_err(|e| SourceError::Garbage(format!("not JSON: {e}")))
}

/// A string field of a registry row; numbers are accepted and rendered as text.
pub fn str_field<'a>(row: &'a serde_json::Value, key: &str) -> Option<std::borrow::Cow<'a, str>> {
    match row.get(key)? {
        serde_json::Value::String(s) if !s.trim().is_empty() => {
            Some(std::borrow::Cow::Borrowed(s.trim()))
        }
        serde_json::Value::Number(n) => Some(std::borrow::Cow::Owned(n.to_string())),
        _ => None,
    }
}

/// A 0/1 flag that registries send as `"1"`, `1`, `true` or their opposites.
pub fn flag_field(row: &serde_json::Value, key: &str) -> Option<bool> {
    match row.get(key)? {
        serde_json::Value::Bool(b) => Some(*b),
        serde_json::Value::Number(n) => n.as_f64().map(|x| x != 0.0),
        serde_json::Value::String(s) => match s.trim() {
            "1" | "true" | "True" => Some(true),
            "0" | "false" | "False" | "" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A number sent as a number or a string (`"1834250.17"`).
pub fn number_field(row: &serde_json::Value, key: &str) -> Option<f64> {
    match row.get(key)? {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().replace(',', ".").parse().ok(),
        _ => None,
    }
}

/// A `dd.mm.yyyy` date, or an ISO date (`2025-08-11`, `2025-08-11T00:00:00`).
pub fn date_field(row: &serde_json::Value, key: &str) -> Option<chrono::NaiveDate> {
    let s = str_field(row, key)?;
    chrono::NaiveDate::parse_from_str(&s, "%d.%m.%Y")
        .ok()
        .or_else(|| {
            s.get(..10)
                .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn classifies_failure_shapes() {
        assert_eq!(classify(200, b"{\"rows\":[]}", Expect::Json), Ok(()));
        assert_eq!(
            classify(200, b"<tr><td class=num></td></tr>", Expect::Html),
            Ok(())
        );
        assert_eq!(
            classify(200, b"<html>DDoS-Guard</html>", Expect::Html),
            Err(SourceError::Blocked)
        );
        assert_eq!(
            classify(403, b"", Expect::Json),
            Err(SourceError::Http(403))
        );
        assert_eq!(
            classify(451, b"<html>blocked</html>", Expect::Json),
            Err(SourceError::Http(451))
        );
        assert_eq!(
            classify(200, b"  <html><div class=captcha>", Expect::Json),
            Err(SourceError::Captcha)
        );
        assert_eq!(
            classify(200, b"<html><title>DDoS-Guard</title>", Expect::Json),
            Err(SourceError::Blocked)
        );
        assert!(matches!(
            classify(200, b"<!DOCTYPE html><p>hi", Expect::Json),
            Err(SourceError::Garbage(_))
        ));
    }

    #[test]
    fn a_nalog_400_is_read_for_its_errors_before_its_status() {
        // Shapes recorded by live clients in 2026 (registries.md §16).
        for body in [
            r#"{"ERRORS":{"captcha":["Требуется ввести цифры с картинки"]}}"#,
            r#"{"ERRORS":{"pbCaptcha":["Требуется ввести цифры с картинки"]}}"#,
            r#"{"ERRORS":{"pbRateLimit":["Превышено количество запросов"]}}"#,
            r#"{"captchaRequired":true}"#,
        ] {
            assert_eq!(
                classify(400, body.as_bytes(), Expect::Json),
                Err(SourceError::Captcha),
                "{body}"
            );
        }
        assert!(matches!(
            classify(400, r#"{"ERRORS":{"queryUl":["Неверный запрос"]}}"#.as_bytes(), Expect::Json),
            Err(SourceError::Garbage(e)) if e.contains("queryul")
        ));
        // A JSON 400 without ERRORS, and a 500 with a JSON body, keep their status.
        assert_eq!(
            classify(400, br#"{"message":"bad"}"#, Expect::Json),
            Err(SourceError::Http(400))
        );
        assert_eq!(
            classify(500, br#"{"error":"internal"}"#, Expect::Json),
            Err(SourceError::Http(500))
        );
    }

    #[test]
    fn proxies_of_every_supported_scheme_build_a_client() {
        let settings = SourceSettings::registry("https://egrul.nalog.ru");
        for url in [
            "http://127.0.0.1:3128",
            "https://user:pw@127.0.0.1:3129",
            "socks5://user:pw@127.0.0.1:1080",
            "socks5h://127.0.0.1:1080",
        ] {
            assert!(proxy_url(url).is_ok(), "{url}");
            let secret = crate::domain::Secret::new(url);
            assert!(RegistryHttp::new(&settings, Some(&secret)).is_ok(), "{url}");
        }
        for url in ["ftp://127.0.0.1:21", "127.0.0.1:3128", "http://"] {
            assert!(proxy_url(url).is_err(), "{url}");
        }
    }

    #[test]
    fn reads_flags_numbers_and_dates_in_every_shape() {
        let row = json!({"a":"1","b":0,"c":true,"d":"0","s":"1834250.17","n":12,"dt":"14.03.2011","iso":"2025-08-11T00:00:00"});
        assert_eq!(flag_field(&row, "a"), Some(true));
        assert_eq!(flag_field(&row, "b"), Some(false));
        assert_eq!(flag_field(&row, "c"), Some(true));
        assert_eq!(flag_field(&row, "d"), Some(false));
        assert_eq!(flag_field(&row, "missing"), None);
        assert_eq!(number_field(&row, "s"), Some(1834250.17));
        assert_eq!(number_field(&row, "n"), Some(12.0));
        assert_eq!(str_field(&row, "n").as_deref(), Some("12"));
        assert_eq!(
            date_field(&row, "dt"),
            chrono::NaiveDate::from_ymd_opt(2011, 3, 14)
        );
        assert_eq!(
            date_field(&row, "iso"),
            chrono::NaiveDate::from_ymd_opt(2025, 8, 11)
        );
    }
}

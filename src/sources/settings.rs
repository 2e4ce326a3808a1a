//! The registries' settings (`sources.*`): one table per registry, with its defaults from
//! the registry list, and the few keys that apply to all.

use crate::domain::Secret;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Settings per registry, keyed by its name (`sources.<name>.…`; defaults come from
/// the registry list, [`super::REGISTRIES`]), beside the few that apply to all
/// registries (`sources.proxy`, `sources.probe_inn`).
#[derive(Debug, Clone)]
pub struct SourcesSettings {
    /// The proxy of every registry without its own `proxy`. A secret (it may hold a password).
    pub proxy: Secret,
    /// The INN `doctor` asks every registry about: a large company every registry knows.
    pub probe_inn: String,
    registries: BTreeMap<String, SourceSettings>,
}

/// The keys under `sources` that are not registries.
pub const SOURCES_GLOBAL_KEYS: &[&str] = &["proxy", "probe_inn"];

impl SourcesSettings {
    pub fn iter(&self) -> impl Iterator<Item = (&str, &SourceSettings)> {
        self.registries.iter().map(|(name, s)| (name.as_str(), s))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&str, &mut SourceSettings)> {
        self.registries
            .iter_mut()
            .map(|(name, s)| (name.as_str(), s))
    }

    pub fn get(&self, name: &str) -> Option<&SourceSettings> {
        self.registries.get(name)
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut SourceSettings> {
        self.registries.get_mut(name)
    }

    /// The proxy a registry's requests go through: its own, else the global one;
    /// `None` for a direct connection (`direct` switches the global one off for a registry).
    pub fn proxy_of(&self, name: &str) -> Option<&Secret> {
        let own = self.get(name).map(|s| &s.proxy).filter(|p| !p.is_empty());
        match own.or((!self.proxy.is_empty()).then_some(&self.proxy)) {
            Some(p) if p.expose().trim() == "direct" => None,
            other => other,
        }
    }
}

/// A map with the global keys and one table per registry. Written by hand because serde's
/// `flatten` would buffer the registries' values and lose figment's lossy env conversion.
impl Serialize for SourcesSettings {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = ser.serialize_map(Some(self.registries.len() + 2))?;
        map.serialize_entry("proxy", &self.proxy)?;
        map.serialize_entry("probe_inn", &self.probe_inn)?;
        for (name, s) in &self.registries {
            map.serialize_entry(name, s)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for SourcesSettings {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = SourcesSettings;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("`proxy`, `probe_inn` and a table per registry")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<SourcesSettings, A::Error> {
                let mut out = SourcesSettings {
                    proxy: Secret::default(),
                    probe_inn: String::new(),
                    registries: BTreeMap::new(),
                };
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "proxy" => out.proxy = map.next_value()?,
                        "probe_inn" => out.probe_inn = map.next_value()?,
                        _ => {
                            let s = map.next_value::<SourceSettings>()?;
                            out.registries.insert(key, s);
                        }
                    }
                }
                Ok(out)
            }
        }
        de.deserialize_map(Visit)
    }
}

/// `settings.sources["kad"]`: a registry's settings (panics for a name not in the list,
/// which [`Settings::load`] never lets through).
impl std::ops::Index<&str> for SourcesSettings {
    type Output = SourceSettings;

    fn index(&self, name: &str) -> &SourceSettings {
        &self.registries[name]
    }
}

impl std::ops::IndexMut<&str> for SourcesSettings {
    fn index_mut(&mut self, name: &str) -> &mut SourceSettings {
        self.registries
            .get_mut(name)
            .unwrap_or_else(|| panic!("no registry named `{name}`"))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSettings {
    pub enabled: bool,
    /// Replaces the registry's scheme and host (and may add a path prefix).
    pub base_url: String,
    /// Bound on this source's whole flow for one check (every request and poll).
    pub timeout_ms: u64,
    /// How long an answer is reused without asking the registry again.
    pub ttl_s: u64,
    /// Flows started per second, shared by all checks in the process; `0` = unlimited.
    pub rps: f64,
    /// Pause between polls of an asynchronous registry answer.
    pub poll_interval_ms: u64,
    /// Polls before giving up on an answer that stays "wait".
    pub max_polls: u32,
    /// Largest accepted response body, after decompression.
    pub max_body_bytes: usize,
    /// Bound on connecting to the registry, per request.
    pub connect_timeout_ms: u64,
    /// Bound on one request (connect, send, read), within `timeout_ms`.
    pub request_timeout_ms: u64,
    /// Attempts per request for connect errors, timeouts, 429 and 502/503/504 (1 = no retry).
    pub max_attempts: u32,
    /// Base of the exponential backoff between attempts (full jitter).
    pub retry_base_ms: u64,
    /// Consecutive failed flows that open the circuit breaker (0 = never).
    pub breaker_failures: u32,
    /// How long an open breaker skips the registry before one probe is let through.
    pub breaker_cooldown_s: u64,
    /// When the registry fails, a stored answer younger than this is used as `stale`.
    pub max_stale_s: u64,
    /// Pages read at most in paged answers (publications, court cases).
    pub max_pages: u32,
    /// A `Cookie` header to send (kad needs a browser's `wasm` cookie). A secret.
    pub cookie: Secret,
    /// After a captcha the registry is not asked for this long (0 = ask again at once):
    /// asking again only extends the ban (registries.md §0.3).
    pub captcha_pause_s: u64,
    /// Least time between two requests of one flow (kad bans request bursts; live
    /// clients pause 1.2–3 s, registries.md §16).
    pub request_gap_ms: u64,
    /// Whether a 429 is asked again after its `Retry-After`; off for registries behind
    /// DDoS-Guard or Qrator, where a retry lengthens the ban.
    pub retry_rate_limited: bool,
    /// `http://`, `https://` or `socks5://` proxy URL, with `user:password@` if needed; empty:
    /// `sources.proxy`; `direct`: no proxy. A secret, never logged.
    pub proxy: Secret,
    /// A shell command that prints a fresh `Cookie` header value (kad: a headless browser
    /// that loads the search page); run when the cookie is missing or expired.
    pub cookie_command: String,
    /// The cookie command runs at most once per this many seconds.
    pub cookie_refresh_s: u64,
    /// The cookie command is killed after this long.
    pub cookie_command_timeout_ms: u64,
}

impl SourceSettings {
    /// The defaults of a registry at `base_url` (the registry list adjusts some).
    pub fn registry(base_url: &str) -> SourceSettings {
        SourceSettings {
            enabled: true,
            base_url: base_url.to_owned(),
            timeout_ms: 12_000,
            ttl_s: 6 * 3600,
            rps: 1.0,
            poll_interval_ms: 700,
            max_polls: 6,
            max_body_bytes: 4 * 1024 * 1024,
            connect_timeout_ms: 3_000,
            request_timeout_ms: 8_000,
            max_attempts: 3,
            retry_base_ms: 250,
            breaker_failures: 5,
            breaker_cooldown_s: 120,
            max_stale_s: 7 * 24 * 3600,
            max_pages: 4,
            cookie: Secret::default(),
            captcha_pause_s: 0,
            request_gap_ms: 0,
            retry_rate_limited: true,
            proxy: Secret::default(),
            cookie_command: String::new(),
            cookie_refresh_s: 300,
            cookie_command_timeout_ms: 60_000,
        }
    }
}

impl Default for SourcesSettings {
    fn default() -> SourcesSettings {
        SourcesSettings {
            proxy: Secret::default(),
            // ПАО Сбербанк: known to every registry, with court cases and publications.
            probe_inn: "7707083893".into(),
            registries: super::REGISTRIES
                .iter()
                .map(|r| (r.name.to_owned(), (r.defaults)()))
                .collect(),
        }
    }
}

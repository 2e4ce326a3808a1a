//! Settings: defaults in code, then an optional TOML file, then `KONTRAGENT__SECTION__KEY`
//! environment variables, layered with figment and deserialized once, so an unknown key or a
//! bad value fails at start with the key's dotted path.

pub use crate::domain::Secret;
pub use crate::sources::settings::{SOURCES_GLOBAL_KEYS, SourceSettings, SourcesSettings};
use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

mod integrations;
mod process;
mod service;
pub use integrations::*;
pub use process::*;
pub use service::*;

/// The cookie `--sandbox` gives kad (the sandbox refuses requests without a `wasm` cookie).
pub const SANDBOX_KAD_COOKIE: &str = "wasm=0123456789abcdef0123456789abcdef";

/// The longest duration any setting may give, in seconds (ten years).
pub const MAX_DURATION_S: u64 = 10 * 365 * 24 * 3600;

/// Prefix of environment overrides; `__` separates nesting levels.
pub const ENV_PREFIX: &str = "KONTRAGENT__";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub rules: RulesSettings,
    pub check: CheckSettings,
    pub cache: CacheSettings,
    pub auth: AuthSettings,
    pub limits: LimitsSettings,
    pub cors: CorsSettings,
    pub log: LogSettings,
    pub sandbox: SandboxSettings,
    pub catalog: CatalogSettings,
    pub monitoring: MonitoringSettings,
    pub webhooks: WebhookSettings,
    pub applications: ApplicationSettings,
    pub smtp: SmtpSettings,
    pub retention: RetentionSettings,
    pub sources: SourcesSettings,
    pub integrations: IntegrationsSettings,
    pub display: DisplaySettings,
    pub secrets: SecretsSettings,
    pub links: LinksSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            server: ServerSettings {
                host: "127.0.0.1".into(),
                port: 8080,
                max_body_bytes: 64 * 1024,
            },
            database: DatabaseSettings {
                url: "sqlite://data/kontragent.db".into(),
                max_connections: 8,
            },
            rules: RulesSettings {
                path: "rules/default.toml".into(),
                default_profile: "default".into(),
                watch_interval_ms: 2_000,
                dry_run_timeout_ms: 10_000,
                dry_run_max_checks: 10_000,
            },
            check: CheckSettings {
                deadline_ms: 20_000,
                default_wait_ms: 15_000,
                max_wait_ms: 60_000,
                default_language: crate::domain::Language::Ru,
                batch_concurrency: 4,
            },
            display: DisplaySettings {
                timezone: "Europe/Moscow".into(),
            },
            secrets: SecretsSettings::default(),
            links: LinksSettings::default(),
            cache: CacheSettings {
                max_bytes: 256 * 1024 * 1024,
                max_entries: 100_000,
                shared_fetch: None,
            },
            auth: AuthSettings {
                enabled: None,
                api_keys: Vec::new(),
            },
            limits: LimitsSettings {
                checks_per_minute: 60,
                public_per_minute: 20,
                max_running_checks: 64,
                client_ip_header: String::new(),
            },
            cors: CorsSettings {
                allowed_origins: Vec::new(),
            },
            log: LogSettings {
                format: "pretty".into(),
                filter: "info".into(),
            },
            sandbox: SandboxSettings {
                host: "127.0.0.1".into(),
                port: 8090,
            },
            catalog: CatalogSettings {
                max_decision_age_s: 30 * 24 * 3600,
                rating_window_days: 365,
                incident_window_days: 90,
            },
            monitoring: MonitoringSettings {
                enabled: true,
                interval_s: 24 * 3600,
                max_age_s: 3600,
                tick_ms: 5_000,
                batch: 20,
                concurrency: 8,
                lease_s: 300,
                rules_path: "rules/monitoring.toml".into(),
                unavailable_alert_s: 24 * 3600,
            },
            applications: ApplicationSettings {
                min_fill_s: 3,
                max_per_ip_per_hour: 5,
                max_per_phone_per_hour: 3,
                profile: String::new(),
                auto_reject: false,
                timezone: "Europe/Moscow".into(),
                notify_to: Vec::new(),
                escalate_to: Vec::new(),
                link_base: String::new(),
                sla: SlaSettings {
                    first_contact_s: 600,
                    retry_after_s: 7200,
                    next_day_at: "10:00".into(),
                    remind_before_s: 120,
                    tick_ms: 5_000,
                    max_unanswered: 5,
                },
                calendar: CalendarSettings {
                    working_days: ["mon", "tue", "wed", "thu", "fri"]
                        .map(String::from)
                        .to_vec(),
                    working_hours: "09:00-18:00".into(),
                    holidays: Vec::new(),
                },
            },
            smtp: SmtpSettings {
                url: Secret::default(),
                from: "kontragent@localhost".into(),
                timeout_ms: 10_000,
            },
            webhooks: WebhookSettings {
                enabled: true,
                timeout_ms: 10_000,
                // Standard Webhooks' schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
                retry_schedule_s: vec![5, 300, 1800, 7200, 18_000, 36_000, 36_000],
                disable_after_failures: 0,
                tick_ms: 1_000,
                batch: 16,
                lease_s: 60,
                allow_targets: Vec::new(),
                hosts: BTreeMap::new(),
                callback_secret: Secret::default(),
            },
            retention: RetentionSettings {
                evidence_days: 0,
                checks_days: 0,
                tick_s: 3_600,
            },
            sources: SourcesSettings::default(),
            integrations: IntegrationsSettings {
                public_url: "http://127.0.0.1:8080".into(),
                follow_ms: 2_000,
                bitrix24: Bitrix24Settings {
                    client_id: String::new(),
                    client_secret: Secret::default(),
                    oauth_url: "https://oauth.bitrix.info/oauth/token/".into(),
                    robot_code: "kontragent_check".into(),
                    rps: 2.0,
                    burst: 50,
                    timeout_ms: 30_000,
                    uf_fields: true,
                    timeline_comment: true,
                    todo_on_review: true,
                },
                amocrm: AmoCrmSettings {
                    accounts: BTreeMap::new(),
                    rps: 7.0,
                    timeout_ms: 30_000,
                    quiet_s: 600,
                },
            },
        }
    }
}

/// A setting that cannot be used; the message names the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("setting `{key}`: {message}")]
    Invalid { key: String, message: String },
}

impl ConfigError {
    /// Names the dotted key a figment error is about, and the layer that gave the value.
    fn from_figment(error: figment::Error) -> ConfigError {
        let key = match error.path.join(".") {
            path if path.is_empty() => "<config>".to_owned(),
            path => path,
        };
        let message = match &error.metadata {
            Some(layer) => match &layer.source {
                Some(source) => format!("{} (from {} {source})", error.kind, layer.name),
                None => format!("{} (from {})", error.kind, layer.name),
            },
            None => error.kind.to_string(),
        };
        ConfigError::Invalid { key, message }
    }
}

impl Settings {
    /// Loads the layers: defaults, then `file` if given, then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        let env: BTreeMap<String, String> = std::env::vars().collect();
        Settings::load_from(file, &env)
    }

    /// Like [`Settings::load`] with an explicit environment (for tests).
    pub fn load_from(
        file: Option<&Path>,
        env: &BTreeMap<String, String>,
    ) -> Result<Settings, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = file {
            // Opened here first: figment takes a missing file for an empty one.
            std::fs::File::open(path).map_err(|source| ConfigError::Read {
                path: path.display().to_string(),
                source,
            })?;
            figment = figment.merge(Toml::file_exact(path));
        }
        let figment = figment.merge(EnvLayer::new(env)?);
        if let Ok(sources) = figment.find_value("sources")
            && let Some(names) = sources.as_dict()
        {
            let known: Vec<&str> = crate::sources::REGISTRIES.iter().map(|r| r.name).collect();
            if let Some(unknown) = names.keys().find(|k| {
                !known.contains(&k.as_str()) && !SOURCES_GLOBAL_KEYS.contains(&k.as_str())
            }) {
                return Err(ConfigError::Invalid {
                    key: format!("sources.{unknown}"),
                    message: format!(
                        "no such registry (known: {}; and the settings of all: {})",
                        known.join(", "),
                        SOURCES_GLOBAL_KEYS.join(", ")
                    ),
                });
            }
        }
        // Lossy: an env string becomes the number or boolean a field asks for, and stays a
        // string where a string is wanted (a digits-only key, a host).
        let settings: Settings = figment.extract_lossy().map_err(ConfigError::from_figment)?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: &str| {
            Err(ConfigError::Invalid {
                key: key.to_owned(),
                message: message.to_owned(),
            })
        };
        let url = &self.database.url;
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres:")
            || url.starts_with("postgresql:"))
        {
            return invalid("database.url", "must start with sqlite:// or postgres://");
        }
        if self.database.max_connections == 0 {
            return invalid("database.max_connections", "must be at least 1");
        }
        if self.check.deadline_ms == 0 {
            return invalid("check.deadline_ms", "must be positive");
        }
        if self.check.batch_concurrency == 0 || self.check.batch_concurrency > 64 {
            return invalid("check.batch_concurrency", "from 1 to 64");
        }
        if self.display.timezone.parse::<chrono_tz::Tz>().is_err() {
            return invalid(
                "display.timezone",
                "not an IANA time zone (e.g. Europe/Moscow, Asia/Yekaterinburg)",
            );
        }
        if self.links.ttl_s < 60 {
            return invalid("links.ttl_s", "at least 60 seconds");
        }
        if self.rules.dry_run_timeout_ms == 0 {
            return invalid("rules.dry_run_timeout_ms", "must be positive");
        }
        if self.rules.dry_run_max_checks == 0 {
            return invalid("rules.dry_run_max_checks", "must be at least 1");
        }
        if self.limits.max_running_checks == 0 {
            return invalid("limits.max_running_checks", "must be at least 1");
        }
        for (key, value) in self.durations() {
            if value > MAX_DURATION_S.saturating_mul(if key.ends_with("_ms") { 1000 } else { 1 }) {
                return invalid(&key, "more than ten years; durations are bounded");
            }
        }
        if self.webhooks.timeout_ms == 0 || self.webhooks.tick_ms == 0 || self.webhooks.lease_s == 0
        {
            return invalid(
                "webhooks.timeout_ms",
                "timeouts, ticks and leases must be positive",
            );
        }
        if self
            .webhooks
            .retry_schedule_s
            .iter()
            .any(|s| *s > MAX_DURATION_S)
        {
            return invalid("webhooks.retry_schedule_s", "a wait of more than ten years");
        }
        if let Err(e) = crate::outbound::AllowList::parse(&self.webhooks.allow_targets) {
            return invalid("webhooks.allow_targets", &e);
        }
        if !self.webhooks.callback_secret.is_empty()
            && crate::domain::signing::SigningKey::parse(self.webhooks.callback_secret.expose())
                .is_err()
        {
            return invalid(
                "webhooks.callback_secret",
                "must be `whsec_` and base64 of 24 to 64 bytes",
            );
        }
        if let Err(e) = self.applications.calendar() {
            return invalid("applications.calendar", &e);
        }
        if chrono::NaiveTime::parse_from_str(&self.applications.sla.next_day_at, "%H:%M").is_err() {
            return invalid("applications.sla.next_day_at", "a time like 10:00");
        }
        if !matches!(self.log.format.as_str(), "pretty" | "json") {
            return invalid("log.format", "must be `pretty` or `json`");
        }
        if let Err(e) = crate::domain::Inn::parse(&self.sources.probe_inn) {
            return invalid("sources.probe_inn", &e.to_string());
        }
        for (name, s) in self.sources.iter() {
            let key = |k: &str| format!("sources.{name}.{k}");
            if url::Url::parse(&s.base_url)
                .map_or(true, |u| !matches!(u.scheme(), "http" | "https"))
            {
                return invalid(&key("base_url"), "must be an http(s) URL");
            }
            if s.timeout_ms == 0 {
                return invalid(&key("timeout_ms"), "must be positive");
            }
            if !(s.rps.is_finite() && s.rps >= 0.0) {
                return invalid(&key("rps"), "must be a number ≥ 0 (0 = unlimited)");
            }
            if s.max_body_bytes == 0 {
                return invalid(&key("max_body_bytes"), "must be positive");
            }
            if s.max_attempts == 0 {
                return invalid(&key("max_attempts"), "must be at least 1");
            }
            if s.request_timeout_ms == 0 || s.connect_timeout_ms == 0 {
                return invalid(&key("request_timeout_ms"), "timeouts must be positive");
            }
            if s.max_pages == 0 {
                return invalid(&key("max_pages"), "must be at least 1");
            }
            if let Some(proxy) = self.sources.proxy_of(name)
                && let Err(e) = crate::sources::proxy_url(proxy.expose())
            {
                let which = if s.proxy.is_empty() {
                    "sources.proxy".to_owned()
                } else {
                    key("proxy")
                };
                return invalid(&which, &e);
            }
        }
        Ok(())
    }

    /// Every duration setting with its dotted key, so each can be bounded in one place
    /// (time arithmetic on an absurd value would overflow).
    fn durations(&self) -> Vec<(String, u64)> {
        let mut out = vec![
            (
                "rules.watch_interval_ms".to_owned(),
                self.rules.watch_interval_ms,
            ),
            (
                "rules.dry_run_timeout_ms".to_owned(),
                self.rules.dry_run_timeout_ms,
            ),
            ("check.deadline_ms".to_owned(), self.check.deadline_ms),
            ("links.ttl_s".to_owned(), self.links.ttl_s),
            (
                "check.default_wait_ms".to_owned(),
                self.check.default_wait_ms,
            ),
            ("check.max_wait_ms".to_owned(), self.check.max_wait_ms),
            (
                "catalog.max_decision_age_s".to_owned(),
                self.catalog.max_decision_age_s,
            ),
            (
                "monitoring.interval_s".to_owned(),
                self.monitoring.interval_s,
            ),
            ("monitoring.max_age_s".to_owned(), self.monitoring.max_age_s),
            ("monitoring.tick_ms".to_owned(), self.monitoring.tick_ms),
            ("webhooks.timeout_ms".to_owned(), self.webhooks.timeout_ms),
            ("webhooks.tick_ms".to_owned(), self.webhooks.tick_ms),
            ("webhooks.lease_s".to_owned(), self.webhooks.lease_s),
            ("smtp.timeout_ms".to_owned(), self.smtp.timeout_ms.max(1)),
            (
                "applications.sla.first_contact_s".to_owned(),
                self.applications.sla.first_contact_s,
            ),
            (
                "applications.sla.retry_after_s".to_owned(),
                self.applications.sla.retry_after_s,
            ),
            (
                "applications.sla.remind_before_s".to_owned(),
                self.applications.sla.remind_before_s,
            ),
            (
                "applications.sla.tick_ms".to_owned(),
                self.applications.sla.tick_ms.max(1),
            ),
            (
                "applications.min_fill_s".to_owned(),
                self.applications.min_fill_s,
            ),
            ("monitoring.lease_s".to_owned(), self.monitoring.lease_s),
            ("retention.tick_s".to_owned(), self.retention.tick_s),
            (
                "monitoring.unavailable_alert_s".to_owned(),
                self.monitoring.unavailable_alert_s,
            ),
        ];
        for (name, s) in self.sources.iter() {
            for (key, value) in [
                ("timeout_ms", s.timeout_ms),
                ("ttl_s", s.ttl_s),
                ("poll_interval_ms", s.poll_interval_ms),
                ("connect_timeout_ms", s.connect_timeout_ms),
                ("request_timeout_ms", s.request_timeout_ms),
                ("retry_base_ms", s.retry_base_ms),
                ("breaker_cooldown_s", s.breaker_cooldown_s),
                ("max_stale_s", s.max_stale_s),
                ("captcha_pause_s", s.captcha_pause_s),
                ("request_gap_ms", s.request_gap_ms),
                ("cookie_refresh_s", s.cookie_refresh_s),
                ("cookie_command_timeout_ms", s.cookie_command_timeout_ms),
            ] {
                out.push((format!("sources.{name}.{key}"), value));
            }
        }
        out
    }

    /// Points every source at the local sandbox and shortens its polling, for offline demos.
    pub fn use_sandbox(&mut self) {
        let base = format!("http://{}:{}", self.sandbox.host, self.sandbox.port);
        for (_, s) in self.sources.iter_mut() {
            s.base_url = base.clone();
            s.poll_interval_ms = s.poll_interval_ms.min(100);
            s.rps = 0.0;
            // The sandbox's captcha scenario must not silence a registry for the others.
            s.captcha_pause_s = 0;
            s.request_gap_ms = 0;
        }
        // The sandbox's kad wants a `wasm` cookie like the real one; any value does.
        if let Some(kad) = self.sources.get_mut("kad")
            && kad.cookie.is_empty()
        {
            kad.cookie = Secret::new(SANDBOX_KAD_COOKIE);
        }
    }
}

/// The `KONTRAGENT__SECTION__KEY` variables as a figment layer. Every value is kept as a
/// string (figment's own `Env` would turn `0123` into a number before the field is known);
/// [`Figment::extract_lossy`] converts it to what the field wants.
struct EnvLayer(Dict);

impl EnvLayer {
    fn new(env: &BTreeMap<String, String>) -> Result<EnvLayer, ConfigError> {
        let mut dict = Dict::new();
        for (name, raw) in env {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let path: Vec<String> = rest.split("__").map(str::to_lowercase).collect();
            if path.iter().any(|s| s.is_empty()) {
                return Err(ConfigError::Invalid {
                    key: name.clone(),
                    message: "empty segment in variable name".into(),
                });
            }
            let (leaf, parents) = path
                .split_last()
                .expect("split yields one segment at least");
            let mut table = &mut dict;
            for segment in parents {
                let entry = table
                    .entry(segment.clone())
                    .or_insert_with(|| Value::from(Dict::new()));
                table = match entry {
                    Value::Dict(_, inner) => inner,
                    _ => {
                        return Err(ConfigError::Invalid {
                            key: name.clone(),
                            message: "another variable sets this path to a value".into(),
                        });
                    }
                };
            }
            table.insert(leaf.clone(), Value::from(raw.clone()));
        }
        Ok(EnvLayer(dict))
    }
}

impl Provider for EnvLayer {
    fn metadata(&self) -> Metadata {
        Metadata::named(format!("`{ENV_PREFIX}*` environment variables"))
    }

    fn data(&self) -> Result<figment::value::Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.0.clone()))
    }
}

/// A list setting: a TOML array, or in env a comma-separated string (DESIGN.md).
fn list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + std::str::FromStr,
    T::Err: std::fmt::Display,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Given<T> {
        List(Vec<T>),
        Joined(String),
    }
    match Given::<T>::deserialize(deserializer)? {
        Given::List(items) => Ok(items),
        Given::Joined(joined) => joined
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| item.parse::<T>().map_err(serde::de::Error::custom))
            .collect(),
    }
}

#[cfg(test)]
mod tests;

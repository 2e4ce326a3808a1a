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

/// The links the service hands out (report links in API answers, e-mails, CRM write-backs,
/// batch files): signed, so they open in a browser without a key, and expiring.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinksSettings {
    /// How long a link opens, in seconds from the check it points to (30 days).
    pub ttl_s: u64,
}

impl Default for LinksSettings {
    fn default() -> Self {
        LinksSettings {
            ttl_s: 30 * 24 * 3600,
        }
    }
}

/// The key that seals the secrets the service stores (webhook and callback secrets, CRM
/// tokens, replayed responses): `key` when set, else the key file, created at first start.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecretsSettings {
    /// 32 bytes in base64 or 64 hex digits (`KONTRAGENT__SECRETS__KEY`); a secret.
    pub key: Secret,
    /// The key file (mode 0600). Empty: `secrets.key` beside the SQLite database, or
    /// `data/secrets.key` with PostgreSQL.
    pub key_file: String,
}

/// The CRM connectors.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationsSettings {
    /// The service's address as the CRMs reach it (`https://dd.example.ru`): the Bitrix24
    /// robot's handler and the links in verdicts are built on it.
    pub public_url: String,
    /// How often the event feed is read for status changes of contractors linked to a CRM.
    pub follow_ms: u64,
    pub bitrix24: Bitrix24Settings,
    pub amocrm: AmoCrmSettings,
}

/// amoCRM / Kommo accounts whose webhooks start checks (integrations.md §2).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmoCrmSettings {
    /// By subdomain (lower-case): `integrations.amocrm.accounts.acmetrade.*`.
    pub accounts: BTreeMap<String, AmoAccountSettings>,
    /// Calls per second to one account (amoCRM allows 7).
    pub rps: f64,
    /// One API call's budget.
    pub timeout_ms: u64,
    /// A webhook about an entity written back with the same INN within this is not checked
    /// again: the write-back itself fires `update_*` webhooks.
    pub quiet_s: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AmoAccountSettings {
    /// The API's address; empty: `https://<subdomain>.amocrm.ru`.
    pub base_url: String,
    /// A private integration's long-lived token (a secret). Empty: OAuth with the fields below.
    pub access_token: Secret,
    /// OAuth: the integration's id and secret, its redirect URI, and a refresh token to start
    /// from (a secret; each refresh rotates it, and the newest is kept in the database).
    pub client_id: String,
    pub client_secret: Secret,
    pub redirect_uri: String,
    pub refresh_token: Secret,
    /// The `{token}` in the webhook URL (a secret): `/v1/integrations/amocrm/webhook/{token}`.
    pub webhook_token: Secret,
    /// The custom field that holds the INN, and those the verdict is written to (0: none).
    pub inn_field_id: u64,
    pub decision_field_id: u64,
    pub score_field_id: u64,
    pub checked_at_field_id: u64,
    /// Which entities' webhooks are checked: `companies` or `leads` (empty: both).
    pub entity: String,
}

/// The Bitrix24 application (a local server-side app: integrations.md §1.1).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bitrix24Settings {
    /// The application's `client_id` and `client_secret` (a secret), for refreshing tokens.
    pub client_id: String,
    pub client_secret: Secret,
    /// Where tokens are refreshed (`grant_type=refresh_token`).
    pub oauth_url: String,
    /// The robot's and the activity's `CODE`.
    pub robot_code: String,
    /// Calls per second to one portal, and how many may go at once before that (the
    /// portal's leaky bucket: 2 and 50 on cloud plans).
    pub rps: f64,
    pub burst: u32,
    /// One REST call's budget.
    pub timeout_ms: u64,
    /// Write-back after a check of a company: its `UF_CRM_KONTRAGENT_*` fields, a timeline
    /// comment with the verdict and reasons, a to-do for its responsible when it is `review`.
    pub uf_fields: bool,
    pub timeline_comment: bool,
    pub todo_on_review: bool,
}

/// How long what grows with every check is kept (0 = for ever); a decision is kept for ever.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSettings {
    /// Raw registry bodies older than this are emptied (URL, status and SHA-256 stay).
    pub evidence_days: u32,
    /// Finished checks older than this keep their decision and reasons only.
    pub checks_days: u32,
    /// How often a pass runs (one instance at a time).
    pub tick_s: u64,
}

/// The mail server for messages to the department.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    /// `smtp://host:port` (STARTTLS when offered), `smtps://host:port`, with
    /// `user:password@` when needed; empty: no e-mail. A secret (it may hold a password).
    pub url: Secret,
    /// The sender.
    pub from: String,
    /// One attempt's limit.
    pub timeout_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogSettings {
    /// Listing needs an `approve` no older than this (or a manager's override).
    pub max_decision_age_s: u64,
    /// Window for the rolling rating average and count.
    pub rating_window_days: u32,
    /// Window for complaints, SLA breaches and the on-time ratio.
    pub incident_window_days: u32,
}

/// Applications from the website's registration form.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationSettings {
    /// A form sent sooner than this after `form_started_at` was filled by a bot.
    pub min_fill_s: u64,
    /// More applications than this from one client IP within an hour are spam.
    pub max_per_ip_per_hour: u32,
    /// More applications than this with one phone number within an hour are spam.
    pub max_per_phone_per_hour: u32,
    /// The scoring profile of the screening check (empty: `rules.default_profile`).
    pub profile: String,
    /// Close an application whose screening says `reject` without a manager.
    pub auto_reject: bool,
    /// The department's time zone (IANA), for the SLA and the calendar.
    pub timezone: String,
    /// The department's addresses: a message on every application that is not spam and on
    /// every missed call (needs `smtp.url`).
    #[serde(deserialize_with = "list")]
    pub notify_to: Vec<String>,
    /// The supervisors: they get the missed-call message too, and the one about an
    /// application whose calls went unanswered `sla.max_unanswered` times.
    #[serde(default, deserialize_with = "list")]
    pub escalate_to: Vec<String>,
    /// The service's address as managers reach it (`https://kontragent.example.ru`), for the
    /// links in the messages; empty: links are paths.
    pub link_base: String,
    pub sla: SlaSettings,
    pub calendar: CalendarSettings,
}

/// The lead-handling rules.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaSettings {
    /// The first call is due this long after an application arrives.
    pub first_contact_s: u64,
    /// After an unanswered call, the next is due this long later.
    pub retry_after_s: u64,
    /// After a second unanswered call, the next is due on the next working day at this time.
    pub next_day_at: String,
    /// `application.sla_due` is sent this long before a call is due.
    pub remind_before_s: u64,
    /// How often the service looks for due and missed calls.
    pub tick_ms: u64,
    /// After this many unanswered calls (0: no cap) the application is escalated to
    /// `applications.escalate_to`, or closed as unreachable when nobody is set.
    #[serde(default)]
    pub max_unanswered: u32,
}

/// When the department works.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarSettings {
    /// `mon` … `sun`.
    #[serde(deserialize_with = "list")]
    pub working_days: Vec<String>,
    /// `09:00-18:00`.
    pub working_hours: String,
    /// Dates (`2027-01-01`) that are not working days.
    #[serde(deserialize_with = "list")]
    pub holidays: Vec<String>,
}

impl ApplicationSettings {
    /// The business calendar the SLA runs on.
    pub fn calendar(&self) -> Result<crate::domain::sla::Calendar, String> {
        crate::domain::sla::Calendar::parse(
            &self.timezone,
            &self.calendar.working_days,
            &self.calendar.working_hours,
            &self.calendar.holidays,
        )
    }
}

/// Webhook deliveries and check callbacks, and the guard on every outbound URL taken from input.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// Run the delivery worker in `serve` (every instance may; leases keep each attempt unique).
    pub enabled: bool,
    /// An attempt not answered 2xx within this is a failure.
    pub timeout_ms: u64,
    /// Waits before the 2nd, 3rd, … attempt (jittered ±10 %); after the last, the delivery
    /// has failed and its subscription is disabled.
    #[serde(deserialize_with = "list")]
    pub retry_schedule_s: Vec<u64>,
    /// A subscription failing this many deliveries in a row is disabled (`0` = only at the
    /// end of a schedule).
    pub disable_after_failures: u32,
    /// How often the worker looks for due deliveries.
    pub tick_ms: u64,
    /// Deliveries claimed per look.
    pub batch: u32,
    /// How long a claim lasts; a killed instance's claims are taken over after it.
    pub lease_s: u64,
    /// Networks (CIDR or address) exempt from the SSRF guard: an on-premise CRM.
    #[serde(deserialize_with = "list")]
    pub allow_targets: Vec<String>,
    /// Fixed addresses for host names (like `/etc/hosts`), used before DNS.
    pub hosts: BTreeMap<String, std::net::IpAddr>,
    /// The key check callbacks are signed with (`whsec_…`); empty: generated and stored at
    /// first start (`kontragent webhooks callback-secret` prints it).
    pub callback_secret: Secret,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitoringSettings {
    /// Run the scheduler in `serve` (every instance may; leases keep the work unique).
    pub enabled: bool,
    /// How often each contractor is re-checked.
    pub interval_s: u64,
    /// Registry answers younger than this are reused by a re-check.
    pub max_age_s: u64,
    /// How often the scheduler looks for due contractors.
    pub tick_ms: u64,
    /// Contractors claimed per look.
    pub batch: u32,
    /// Contractors re-checked at once by this instance.
    pub concurrency: u32,
    /// How long a claim lasts; a crashed instance's claims expire after it.
    pub lease_s: u64,
    /// The monitoring policy file.
    pub rules_path: String,
    /// A source failing at every re-check for this long gives a `source_unavailable` event.
    pub unavailable_alert_s: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub host: String,
    /// `0` asks the OS for a free port (tests do this).
    pub port: u16,
    /// Largest accepted JSON body.
    pub max_body_bytes: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://path` or `postgres://…`; the scheme picks the store.
    pub url: String,
    pub max_connections: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesSettings {
    /// The scoring ruleset file.
    pub path: String,
    /// The profile used when a request names none.
    pub default_profile: String,
    /// How often the file is looked at for changes (hot reload); `0` = never.
    pub watch_interval_ms: u64,
    /// A dry-run stops after this long and answers with what it judged (`partial`).
    pub dry_run_timeout_ms: u64,
    /// Most past checks one dry-run replays.
    pub dry_run_max_checks: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSettings {
    /// Upper bound for one check's fan-out over all sources.
    pub deadline_ms: u64,
    /// How long `POST /v1/checks` waits before answering `202` when the request says nothing.
    pub default_wait_ms: u64,
    /// Largest `wait_ms` a request may ask for.
    pub max_wait_ms: u64,
    /// The language of reasons when a request's `Accept-Language` names none the rules
    /// are written in (`ru` or `en`); also the language of CLI output, e-mails and CRM notes.
    pub default_language: crate::domain::Language,
    /// Checks of one batch (`POST /v1/checks/batch`, `kontragent batch`) running at once.
    pub batch_concurrency: u32,
}

/// How human outputs (the CLI, the report, e-mails) show what the API gives in UTC.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisplaySettings {
    /// An IANA time zone (`Europe/Moscow`); the API itself always answers in UTC.
    pub timezone: String,
}

impl DisplaySettings {
    /// The zone, checked at load ([`Settings::validate`]); Moscow if it somehow is not.
    pub fn tz(&self) -> chrono_tz::Tz {
        self.timezone.parse().unwrap_or(chrono_tz::Europe::Moscow)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSettings {
    /// Bytes of memory the caches may hold: half for registry answers (findings only, the
    /// raw bodies stay in the database), half for finished checks' documents.
    pub max_bytes: u64,
    /// Superseded by `max_bytes` and ignored; still accepted so older configs load.
    pub max_entries: u64,
    /// One registry flow per (source, INN) across every instance on the database, through
    /// claims in `fetch_claims`. Unset: on for PostgreSQL, where instances share a database;
    /// off for SQLite, where each claim would cost two synced commits per source.
    pub shared_fetch: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// Unset: open while no key was ever created (and then only on a loopback address), keys with
    /// scopes as soon as one exists. `true`: keys always. `false`: never (say so explicitly,
    /// e.g. behind a gateway that authenticates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Keys from the config with the `admin` scope, recorded as actor `config` (secrets:
    /// never logged). Prefer `kontragent keys create`, which stores only a hash.
    #[serde(deserialize_with = "list")]
    pub api_keys: Vec<Secret>,
}

/// Abuse limits: what one client and the whole service may ask for.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSettings {
    /// Checks one API key may start per minute (`0` = unlimited).
    pub checks_per_minute: u32,
    /// Requests one client IP may make to `/v1/public/*` per minute (`0` = unlimited).
    pub public_per_minute: u32,
    /// Checks running at once in this process; past it `POST /v1/checks` answers 503.
    pub max_running_checks: u32,
    /// A header the proxy in front sets to the client's IP (`X-Forwarded-For`,
    /// `X-Real-IP`; its last entry is used); empty = the connection's peer address.
    pub client_ip_header: String,
}

/// Cross-origin calls from the website's own pages.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorsSettings {
    /// Origins (`https://example.ru`) allowed to call the API from a browser; in env a
    /// comma-separated string.
    #[serde(deserialize_with = "list")]
    pub allowed_origins: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// `pretty` for people, `json` for log collectors.
    pub format: String,
    /// A `tracing` filter such as `info` or `kontragent=debug,info`.
    pub filter: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxSettings {
    /// Where `kontragent sandbox` listens and where `--sandbox` points the sources.
    pub host: String,
    pub port: u16,
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
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_load() {
        let s = Settings::load_from(None, &env(&[])).unwrap();
        assert_eq!(s.server.port, 8080);
        assert_eq!(s.sources["egrul"].base_url, "https://egrul.nalog.ru");
        assert_eq!(s.sources["pb"].base_url, "https://pb.nalog.ru");
    }

    #[test]
    fn a_global_proxy_applies_to_every_registry_unless_one_has_its_own_or_goes_direct() {
        let s = Settings::load_from(
            None,
            &env(&[
                ("KONTRAGENT__SOURCES__PROXY", "socks5://u:p@127.0.0.1:1080"),
                ("KONTRAGENT__SOURCES__KAD__PROXY", "http://127.0.0.1:3128"),
                ("KONTRAGENT__SOURCES__EGRUL__PROXY", "direct"),
                ("KONTRAGENT__SOURCES__PB__TIMEOUT_MS", "30000"),
            ]),
        )
        .unwrap();
        let proxy = |name: &str| s.sources.proxy_of(name).map(|p| p.expose().to_owned());
        assert_eq!(proxy("pb").as_deref(), Some("socks5://u:p@127.0.0.1:1080"));
        assert_eq!(proxy("kad").as_deref(), Some("http://127.0.0.1:3128"));
        assert_eq!(proxy("egrul"), None);
        // The registries' own keys still take env strings as numbers.
        assert_eq!(s.sources["pb"].timeout_ms, 30_000);
        assert_eq!(s.sources.probe_inn, "7707083893");
        let none = Settings::load_from(None, &env(&[])).unwrap();
        assert_eq!(none.sources.proxy_of("pb"), None);
    }

    #[test]
    fn a_bad_proxy_names_its_key_and_never_its_password() {
        for (var, key) in [
            ("KONTRAGENT__SOURCES__PROXY", "sources.proxy"),
            (
                "KONTRAGENT__SOURCES__FEDRESURS__PROXY",
                "sources.fedresurs.proxy",
            ),
        ] {
            let err = Settings::load_from(None, &env(&[(var, "ftp://user:hunter2@127.0.0.1:21")]))
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
        let err = Settings::load_from(None, &env(&[("KONTRAGENT__SOURCES__PROXI", "x")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("sources.proxi"), "{err}");
    }

    #[test]
    fn env_overrides_nested_keys_with_types() {
        let s = Settings::load_from(
            None,
            &env(&[
                ("KONTRAGENT__SERVER__PORT", "9000"),
                ("KONTRAGENT__SOURCES__PB__ENABLED", "false"),
                ("KONTRAGENT__SOURCES__EGRUL__RPS", "2"),
                (
                    "KONTRAGENT__SOURCES__EGRUL__BASE_URL",
                    "http://127.0.0.1:1/x",
                ),
                (
                    "KONTRAGENT__DATABASE__URL",
                    "postgres://postgres@127.0.0.1/test",
                ),
            ]),
        )
        .unwrap();
        assert_eq!(s.server.port, 9000);
        assert!(!s.sources["pb"].enabled);
        assert_eq!(s.sources["egrul"].rps, 2.0);
        assert_eq!(s.sources["egrul"].base_url, "http://127.0.0.1:1/x");
        assert_eq!(s.sources["egrul"].timeout_ms, 12_000);
    }

    #[test]
    fn an_amocrm_account_is_configured_from_env_under_its_subdomain() {
        let s = Settings::load_from(
            None,
            &env(&[
                (
                    "KONTRAGENT__INTEGRATIONS__AMOCRM__ACCOUNTS__ACMETRADE__WEBHOOK_TOKEN",
                    "Hk2-secret",
                ),
                (
                    "KONTRAGENT__INTEGRATIONS__AMOCRM__ACCOUNTS__ACMETRADE__INN_FIELD_ID",
                    "512733",
                ),
                ("KONTRAGENT__INTEGRATIONS__BITRIX24__CLIENT_ID", "local.app"),
            ]),
        )
        .unwrap();
        let account = &s.integrations.amocrm.accounts["acmetrade"];
        assert_eq!(account.webhook_token.expose(), "Hk2-secret");
        assert_eq!(account.inn_field_id, 512733);
        assert_eq!(account.decision_field_id, 0, "not given: not written");
        assert!(account.base_url.is_empty());
        assert_eq!(s.integrations.bitrix24.client_id, "local.app");
    }

    #[test]
    fn a_list_in_env_is_comma_separated() {
        let s = Settings::load_from(
            None,
            &env(&[(
                "KONTRAGENT__CORS__ALLOWED_ORIGINS",
                "https://a.ru, https://b.ru",
            )]),
        )
        .unwrap();
        assert_eq!(s.cors.allowed_origins, ["https://a.ru", "https://b.ru"]);
    }

    #[test]
    fn a_digits_only_string_keeps_its_leading_zeros() {
        let s = Settings::load_from(
            None,
            &env(&[
                ("KONTRAGENT__AUTH__API_KEYS", "0012345678901234567890"),
                ("KONTRAGENT__RULES__DEFAULT_PROFILE", "007"),
            ]),
        )
        .unwrap();
        assert_eq!(s.auth.api_keys, [Secret::new("0012345678901234567890")]);
        assert_eq!(s.rules.default_profile, "007");
    }

    #[test]
    fn a_variable_that_nests_below_a_value_is_refused() {
        // The old loader dropped such a variable without a word.
        let err =
            Settings::load_from(None, &env(&[("KONTRAGENT__SERVER__PORT__X", "1")])).unwrap_err();
        assert!(err.to_string().contains("server.port"), "{err}");
    }

    #[test]
    fn unknown_key_is_named() {
        let err =
            Settings::load_from(None, &env(&[("KONTRAGENT__SERVER__PROT", "1")])).unwrap_err();
        assert!(err.to_string().contains("prot"), "{err}");
        let err = Settings::load_from(
            None,
            &env(&[("KONTRAGENT__SOURCES__NOPE__ENABLED", "true")]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
    }

    #[test]
    fn bad_value_is_named() {
        let err =
            Settings::load_from(None, &env(&[("KONTRAGENT__SERVER__PORT", "eighty")])).unwrap_err();
        assert!(err.to_string().contains("server.port"), "{err}");
        let err = Settings::load_from(None, &env(&[("KONTRAGENT__SOURCES__PB__TIMEOUT_MS", "0")]))
            .unwrap_err();
        assert!(err.to_string().contains("sources.pb.timeout_ms"), "{err}");
        let err = Settings::load_from(None, &env(&[("KONTRAGENT__DATABASE__URL", "mysql://x")]))
            .unwrap_err();
        assert!(err.to_string().contains("database.url"), "{err}");
        let err = Settings::load_from(
            None,
            &env(&[("KONTRAGENT__SOURCES__KAD__MAX_STALE_S", "9000000000000")]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("sources.kad.max_stale_s"), "{err}");
        let err = Settings::load_from(
            None,
            &env(&[(
                "KONTRAGENT__RULES__DRY_RUN_TIMEOUT_MS",
                "18446744073709551615",
            )]),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("rules.dry_run_timeout_ms"),
            "{err}"
        );
    }

    #[test]
    fn file_layer_sits_between_defaults_and_env() {
        let dir = std::env::temp_dir().join(format!("kontragent-cfg-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("k.toml");
        std::fs::write(
            &file,
            "[server]\nport = 7000\nhost = \"0.0.0.0\"\n[sources.egrul]\nttl_s = 60\n",
        )
        .unwrap();
        let s = Settings::load_from(Some(&file), &env(&[("KONTRAGENT__SERVER__PORT", "7001")]))
            .unwrap();
        assert_eq!(s.server.port, 7001);
        assert_eq!(s.server.host, "0.0.0.0");
        assert_eq!(s.sources["egrul"].ttl_s, 60);
        assert_eq!(s.sources["egrul"].base_url, "https://egrul.nalog.ru");
        std::fs::write(&file, "[server]\nport = 1\nbogus = 2\n").unwrap();
        let err = Settings::load_from(Some(&file), &env(&[])).unwrap_err();
        assert!(err.to_string().contains("bogus"), "{err}");
    }
}

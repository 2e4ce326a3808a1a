//! Settings of the service itself: its server, database, rules, checks, caches, keys,
//! limits, logs, the sandbox, display, links and secrets.

use super::{Secret, list};
use serde::{Deserialize, Serialize};

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

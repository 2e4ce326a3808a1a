//! Who may do what: the scopes of API keys, a stored key, and a line of the audit trail.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// What a key may do. `admin` may do everything.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    utoipa::ToSchema,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
pub enum Scope {
    /// Create and read checks and counterparties.
    #[serde(rename = "checks")]
    #[strum(serialize = "checks")]
    Checks,
    #[serde(rename = "catalog:read")]
    #[strum(serialize = "catalog:read")]
    CatalogRead,
    /// Listing, status actions, feedback.
    #[serde(rename = "catalog:write")]
    #[strum(serialize = "catalog:write")]
    CatalogWrite,
    /// Validate, dry-run and reload the rules.
    #[serde(rename = "rules:admin")]
    #[strum(serialize = "rules:admin")]
    RulesAdmin,
    #[serde(rename = "monitoring:admin")]
    #[strum(serialize = "monitoring:admin")]
    MonitoringAdmin,
    #[serde(rename = "webhooks:admin")]
    #[strum(serialize = "webhooks:admin")]
    WebhooksAdmin,
    #[serde(rename = "applications")]
    #[strum(serialize = "applications")]
    Applications,
    /// `GET /metrics`.
    #[serde(rename = "metrics")]
    #[strum(serialize = "metrics")]
    Metrics,
    /// A publishable key for the website: only `/v1/public/*`.
    #[serde(rename = "public")]
    #[strum(serialize = "public")]
    Public,
    #[serde(rename = "admin")]
    #[strum(serialize = "admin")]
    Admin,
}

impl Scope {
    pub const ALL: &'static [Scope] = <Scope as strum::VariantArray>::VARIANTS;

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<Scope> {
        s.trim().parse().ok()
    }

    /// Parses `a,b,c`, naming the first unknown scope.
    pub fn parse_list(list: &str) -> Result<Vec<Scope>, String> {
        let mut scopes = Vec::new();
        for item in list.split(',').filter(|s| !s.trim().is_empty()) {
            let scope = Scope::parse(item).ok_or_else(|| {
                let known: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
                format!(
                    "unknown scope `{}` (known: {})",
                    item.trim(),
                    known.join(", ")
                )
            })?;
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        if scopes.is_empty() {
            return Err("give at least one scope".into());
        }
        scopes.sort();
        Ok(scopes)
    }
}

/// A stored API key (never the key itself).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// SHA-256 of the key, hex.
    #[serde(skip)]
    pub hash: String,
}

impl ApiKey {
    /// The key grants `scope` (directly or through `admin`).
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope) || self.scopes.contains(&Scope::Admin)
    }
}

/// One line of the audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"id": "0193…", "at": "2026-12-01T10:00:00Z", "actor": "crm", "on_behalf_of": "m.petrova",
    "action": "catalog.suspend", "inn": "7707083893", "detail": "Претензия по качеству"}))]
pub struct AuditEntry {
    /// Time-ordered id; the cursor of `GET /v1/audit`.
    pub id: String,
    pub at: DateTime<Utc>,
    /// The API key's name (or the CRM, or `cli`) that acted.
    pub actor: String,
    /// The person the request said it acted for (a body's `actor`), when it named one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<String>,
    /// What was done: `catalog.list`, `catalog.<action>`, `catalog.feedback`,
    /// `catalog.recheck`, `rules.reload`, `rules.rollback`, `monitoring.run`,
    /// `applications.<action>`, `applications.read`, `applications.list`, `keys.create`,
    /// `keys.revoke`, or the route (`POST /v1/webhooks`).
    pub action: String,
    pub inn: Option<String>,
    pub detail: Option<String>,
}

impl AuditEntry {
    pub fn new(actor: &str, action: &str, inn: Option<&str>, detail: Option<String>) -> AuditEntry {
        AuditEntry {
            id: uuid::Uuid::now_v7().to_string(),
            at: crate::clock::now_ms(),
            actor: actor.to_owned(),
            action: action.to_owned(),
            inn: inn.map(str::to_owned),
            detail,
            on_behalf_of: None,
        }
    }
}

/// `a,b,c`, the form scopes are stored and printed in.
pub fn scope_list(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

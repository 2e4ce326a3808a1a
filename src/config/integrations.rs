//! Settings of what the service talks to: the CRM connectors and the webhook deliveries.

use super::{Secret, list};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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

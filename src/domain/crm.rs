//! What the CRM connectors keep: a Bitrix24 portal that installed the application.

use chrono::{DateTime, Utc};

/// A portal that installed the application.
#[derive(Debug, Clone, PartialEq)]
pub struct Portal {
    pub member_id: String,
    /// `acme.bitrix24.ru`.
    pub domain: String,
    /// `https://acme.bitrix24.ru/rest/`: REST methods are appended to it.
    pub client_endpoint: String,
    pub access_token: String,
    pub refresh_token: String,
    /// The shared secret every call from the portal carries.
    pub application_token: String,
    pub expires_at: DateTime<Utc>,
}

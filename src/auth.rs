//! API keys with scopes, and the audit trail of who did what.
//!
//! A key is shown once when created and stored only as its SHA-256. Keys are looked up
//! by that hash and the hashes compared in constant time. Lookups are cached for
//! [`KEY_CACHE_TTL`], so a key revoked on one instance stops working on every instance
//! within that time.

pub use crate::domain::access::{ApiKey, AuditEntry, Scope, scope_list};
use crate::storage::{Store, StoreError};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;
use subtle::ConstantTimeEq;

/// How long a key lookup (and "does any key exist") is trusted before asking the database.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(2);

/// SHA-256 of a presented key, hex.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A new random key: `kt_` and 64 hex digits (256 bits from the OS generator).
fn generate_key() -> String {
    let bytes: Vec<u8> = (0..3)
        .flat_map(|_| uuid::Uuid::new_v4().into_bytes())
        .collect();
    // Three v4 UUIDs carry 366 random bits; their SHA-256 spreads 256 of them evenly.
    format!("kt_{}", hex::encode(Sha256::digest(&bytes)))
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{0}")]
    Invalid(String),
    #[error("an active key named `{0}` exists already")]
    DuplicateName(String),
    #[error("no active key with id or name `{0}`")]
    NotFound(String),
    #[error("storage failed")]
    Store(#[from] StoreError),
}

/// Why a request was not let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// No key, or an unknown or revoked one.
    Unauthorized,
    /// A valid key without the route's scope.
    Forbidden(Scope),
}

/// Who made a request: a key's name, or `anonymous` while the service runs open.
#[derive(Debug, Clone)]
pub struct Principal {
    pub name: String,
    /// `None` while open: everything is allowed.
    pub key: Option<Arc<ApiKey>>,
}

impl Principal {
    /// The actor recorded for a write: the key's name; a human name the request body gave
    /// is added in brackets, never in its place.
    pub fn actor(&self, human: Option<&str>) -> String {
        match human.map(str::trim).filter(|h| !h.is_empty()) {
            Some(h) => format!("{} ({})", self.name, truncate(h, 100)),
            None => self.name.clone(),
        }
    }

    /// The rate-limiting identity: the key's id, or `anonymous`.
    pub fn limit_key(&self) -> String {
        self.key
            .as_ref()
            .map_or_else(|| "anonymous".to_owned(), |k| k.id.clone())
    }
}

fn truncate(s: &str, chars: usize) -> &str {
    s.char_indices().nth(chars).map_or(s, |(i, _)| &s[..i])
}

/// How the service decides whether a request needs a key (`auth.enabled`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// `auth.enabled = false`: no key is ever asked for.
    Off,
    /// `auth.enabled = true`: every protected route needs a key, even before one exists.
    On,
    /// Unset: open while no key was ever created (only on a loopback address), keys as soon
    /// as one is (revoking every key does not open the service again).
    Auto,
}

/// Creates, lists, revokes and checks API keys; records the audit trail.
pub struct KeyService {
    store: Arc<dyn Store>,
    mode: AuthMode,
    /// Hashes of the keys in `auth.api_keys` (admin, actor `config`).
    configured: Vec<String>,
    by_hash: moka::future::Cache<String, Option<Arc<ApiKey>>>,
    any_key: moka::future::Cache<(), bool>,
    /// When each key's `last_used_at` was last written, to write it at most once a minute.
    touched: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
}

impl KeyService {
    pub fn new(store: Arc<dyn Store>, settings: &crate::config::AuthSettings) -> KeyService {
        KeyService {
            store,
            mode: match settings.enabled {
                Some(false) => AuthMode::Off,
                Some(true) => AuthMode::On,
                None => AuthMode::Auto,
            },
            configured: settings
                .api_keys
                .iter()
                .filter(|k| !k.is_empty())
                .map(|k| hash_key(k.expose().trim()))
                .collect(),
            by_hash: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(KEY_CACHE_TTL)
                .build(),
            any_key: moka::future::Cache::builder()
                .time_to_live(KEY_CACHE_TTL)
                .build(),
            touched: std::sync::Mutex::default(),
        }
    }

    pub fn mode(&self) -> AuthMode {
        self.mode
    }

    /// Creates a key; returns its record and the key itself (shown once, never stored).
    pub async fn create(&self, name: &str, scopes: &str) -> Result<(ApiKey, String), KeyError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 64 {
            return Err(KeyError::Invalid("a name of 1 to 64 characters".into()));
        }
        let scopes = Scope::parse_list(scopes).map_err(KeyError::Invalid)?;
        let secret = generate_key();
        let key = ApiKey {
            id: uuid::Uuid::now_v7().to_string(),
            name: name.to_owned(),
            scopes,
            created_at: crate::clock::now_ms(),
            last_used_at: None,
            revoked_at: None,
            hash: hash_key(&secret),
        };
        if !self.store.insert_key(&key).await? {
            return Err(KeyError::DuplicateName(name.to_owned()));
        }
        self.store
            .record_audit(&AuditEntry::new(
                "cli",
                "keys.create",
                None,
                Some(format!("{} [{}]", key.name, scope_list(&key.scopes))),
            ))
            .await?;
        self.any_key.invalidate_all();
        Ok((key, secret))
    }

    pub async fn list(&self) -> Result<Vec<ApiKey>, KeyError> {
        Ok(self.store.list_keys().await?)
    }

    /// Revokes the active key with this id or name.
    pub async fn revoke(&self, id_or_name: &str) -> Result<ApiKey, KeyError> {
        let revoked = self
            .store
            .revoke_key(id_or_name.trim(), Utc::now())
            .await?
            .ok_or_else(|| KeyError::NotFound(id_or_name.to_owned()))?;
        self.store
            .record_audit(&AuditEntry::new(
                "cli",
                "keys.revoke",
                None,
                Some(revoked.name.clone()),
            ))
            .await?;
        self.by_hash.invalidate_all();
        Ok(revoked)
    }

    /// Whether requests need a key right now.
    pub async fn required(&self) -> Result<bool, StoreError> {
        match self.mode {
            AuthMode::Off => Ok(false),
            AuthMode::On => Ok(true),
            AuthMode::Auto => Ok(!self.configured.is_empty() || self.any_key_ever().await?),
        }
    }

    pub async fn any_key_ever(&self) -> Result<bool, StoreError> {
        let store = Arc::clone(&self.store);
        self.any_key
            .try_get_with((), async move { store.count_keys().await.map(|n| n > 0) })
            .await
            .map_err(|e| StoreError::Shared(e.to_string()))
    }

    /// Lets a request in or says why not. `presented` is the key from the request.
    pub async fn authorize(
        &self,
        presented: Option<&str>,
        scope: Scope,
    ) -> Result<Result<Principal, Denied>, StoreError> {
        if !self.required().await? {
            return Ok(Ok(Principal {
                name: "anonymous".into(),
                key: None,
            }));
        }
        let Some(presented) = presented.filter(|p| !p.is_empty() && p.len() <= 256) else {
            return Ok(Err(Denied::Unauthorized));
        };
        let hash = hash_key(presented);
        if let Some(config_key) = self.configured_key(&hash) {
            return Ok(Ok(Principal {
                name: "config".into(),
                key: Some(config_key),
            }));
        }
        let store = Arc::clone(&self.store);
        let lookup = hash.clone();
        let found = self
            .by_hash
            .try_get_with(hash.clone(), async move {
                store.key_by_hash(&lookup).await.map(|k| k.map(Arc::new))
            })
            .await
            .map_err(|e| StoreError::Shared(e.to_string()))?;
        // The lookup was by hash; compare again in constant time all the same.
        let Some(key) = found.filter(|k| {
            k.revoked_at.is_none() && bool::from(k.hash.as_bytes().ct_eq(hash.as_bytes()))
        }) else {
            return Ok(Err(Denied::Unauthorized));
        };
        if !key.allows(scope) {
            return Ok(Err(Denied::Forbidden(scope)));
        }
        self.touch(&key);
        Ok(Ok(Principal {
            name: key.name.clone(),
            key: Some(key),
        }))
    }

    /// The `auth.api_keys` entry with this hash, as an admin key.
    fn configured_key(&self, hash: &str) -> Option<Arc<ApiKey>> {
        let matches = self
            .configured
            .iter()
            .fold(subtle::Choice::from(0), |any, k| {
                any | k.as_bytes().ct_eq(hash.as_bytes())
            });
        bool::from(matches).then(|| {
            Arc::new(ApiKey {
                id: "config".into(),
                name: "config".into(),
                scopes: vec![Scope::Admin],
                created_at: DateTime::<Utc>::UNIX_EPOCH,
                last_used_at: None,
                revoked_at: None,
                hash: hash.to_owned(),
            })
        })
    }

    /// Records the key's use, at most once a minute per key, off the request's path.
    fn touch(&self, key: &ApiKey) {
        {
            let mut touched = match self.touched.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            let now = std::time::Instant::now();
            if touched
                .get(&key.id)
                .is_some_and(|at| now.duration_since(*at) < Duration::from_secs(60))
            {
                return;
            }
            touched.insert(key.id.clone(), now);
        }
        let store = Arc::clone(&self.store);
        let id = key.id.clone();
        tokio::spawn(async move {
            if let Err(e) = store.touch_key(&id, Utc::now()).await {
                tracing::warn!(error = ?e, "cannot record a key's last use");
            }
        });
    }

    /// Appends to the audit trail; a failure is logged, the request it records stands.
    pub async fn audit(&self, entry: AuditEntry) {
        if let Err(e) = self.store.record_audit(&entry).await {
            tracing::error!(error = ?e, action = entry.action, "cannot record the audit entry");
        }
    }

    pub async fn audit_after(
        &self,
        after: Option<&str>,
        limit: i64,
        inn: Option<&str>,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        self.store.audit_after(after, limit, inn).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_and_name_the_unknown_one() {
        assert_eq!(
            Scope::parse_list("checks, catalog:read,checks").unwrap(),
            [Scope::Checks, Scope::CatalogRead]
        );
        let err = Scope::parse_list("checks,catalog:delete").unwrap_err();
        assert!(err.contains("catalog:delete"), "{err}");
        let err = Scope::parse_list(" , ").unwrap_err();
        assert!(err.contains("at least one scope"), "{err}");
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()), Some(*scope));
        }
    }

    #[test]
    fn keys_are_random_and_only_their_hash_is_kept() {
        let (a, b) = (generate_key(), generate_key());
        assert_ne!(a, b);
        assert!(a.starts_with("kt_") && a.len() == 67, "{a}");
        assert_eq!(hash_key(&a).len(), 64);
        assert_ne!(hash_key(&a), hash_key(&b));
    }

    #[test]
    fn the_actor_is_the_key_with_a_human_name_added() {
        let p = Principal {
            name: "crm".into(),
            key: None,
        };
        assert_eq!(p.actor(None), "crm");
        assert_eq!(p.actor(Some("  ")), "crm");
        assert_eq!(p.actor(Some("m.petrova")), "crm (m.petrova)");
    }
}

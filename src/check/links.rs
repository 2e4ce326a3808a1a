//! Report links that open in a browser. A browser sends no API key, so the link carries its
//! own permission: `/v1/checks/{id}/report?exp=…&sig=…`, the signature an HMAC of the
//! check's id and the link's expiry under the service's own key (kept sealed in the
//! database). A link opens that one report until it expires (`links.ttl_s`) and nothing
//! else; changing a character closes it, and `kontragent links rotate` closes them all.

use crate::storage::{StoreError, WebhookStore};
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;
use uuid::Uuid;

/// The name the key is kept under in `service_secrets`.
pub const REPORT_LINKS_SECRET: &str = "report_links";

/// How long an instance signs and checks with the key it read before reading it again: a
/// rotation closes the old links on every running instance within this time.
const KEY_REFRESH: Duration = Duration::from_secs(60);

/// What a link's signature says, checked at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opened {
    /// Signed by the current key and not yet expired.
    Valid,
    /// Signed by the current key, but expired at the time given.
    Expired(DateTime<Utc>),
    /// Not a signature of this key: tampered, cut short, or made before a rotation.
    Invalid,
}

/// Signs and checks links with one key; pure (the moment is given).
pub struct LinkSigner {
    key: Vec<u8>,
}

impl LinkSigner {
    pub fn new(key: &str) -> LinkSigner {
        LinkSigner {
            key: key.as_bytes().to_vec(),
        }
    }

    /// The report's path with its expiry and signature, relative to the service.
    pub fn path(&self, check_id: Uuid, expires: DateTime<Utc>) -> String {
        let exp = expires.timestamp();
        format!(
            "/v1/checks/{check_id}/report?exp={exp}&sig={}",
            self.sign(&check_id.to_string(), exp)
        )
    }

    /// Whether `sig` signs the report of `check_id` (as the path spells it) until `exp`
    /// (unix seconds, as the query spells it), at `now`.
    pub fn open(&self, check_id: &str, exp: &str, sig: &str, now: DateTime<Utc>) -> Opened {
        let Some(expires) = exp
            .parse::<i64>()
            .ok()
            .and_then(|s| DateTime::from_timestamp(s, 0))
        else {
            return Opened::Invalid;
        };
        let signed = self.sign(check_id, expires.timestamp());
        if !bool::from(signed.as_bytes().ct_eq(sig.as_bytes())) {
            Opened::Invalid
        } else if expires <= now {
            Opened::Expired(expires)
        } else {
            Opened::Valid
        }
    }

    /// 128 bits of HMAC-SHA256 over `report:<id>:<exp>`, hex.
    fn sign(&self, check_id: &str, exp: i64) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key");
        mac.update(b"report:");
        mac.update(check_id.to_ascii_lowercase().as_bytes());
        mac.update(format!(":{exp}").as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }
}

/// The service's link signer: the key read from the store, read again every minute so a
/// rotation by another process reaches this one.
pub struct ReportLinks {
    store: Arc<dyn WebhookStore>,
    ttl: chrono::Duration,
    key: RwLock<(Arc<LinkSigner>, Instant)>,
    /// One reading of the key at a time; the others sign with the key they have.
    reading: tokio::sync::Mutex<()>,
}

impl ReportLinks {
    /// Reads (or, on a new database, makes) the key; links live `ttl_s` seconds.
    pub async fn load(store: Arc<dyn WebhookStore>, ttl_s: u64) -> Result<Self, StoreError> {
        let key = read_key(store.as_ref()).await?;
        Ok(ReportLinks {
            store,
            ttl: i64::try_from(ttl_s)
                .ok()
                .and_then(chrono::Duration::try_seconds)
                .unwrap_or(chrono::Duration::days(3650)),
            key: RwLock::new((Arc::new(key), Instant::now())),
            reading: tokio::sync::Mutex::new(()),
        })
    }

    /// The signed link to a check's report, valid `links.ttl_s` from `now`, read in
    /// `language` whatever the browser that opens it prefers (a manager's Chromium asks for
    /// English first as often as not); `lang` is not signed, so a reader may change it.
    pub async fn path(
        &self,
        check_id: Uuid,
        now: DateTime<Utc>,
        language: crate::domain::Language,
    ) -> String {
        let expires = now.checked_add_signed(self.ttl).unwrap_or(now);
        format!(
            "{}&lang={}",
            self.signer().await.path(check_id, expires),
            language.as_str()
        )
    }

    /// What the link's `exp` and `sig` say about the report of `check_id` at `now`.
    pub async fn open(&self, check_id: &str, exp: &str, sig: &str, now: DateTime<Utc>) -> Opened {
        self.signer().await.open(check_id, exp, sig, now)
    }

    /// Reads the key again now (after a rotation in this process).
    pub async fn reload(&self) -> Result<(), StoreError> {
        let _one = self.reading.lock().await;
        self.read_again().await
    }

    async fn read_again(&self) -> Result<(), StoreError> {
        let key = read_key(self.store.as_ref()).await?;
        *self.key.write().unwrap_or_else(|e| e.into_inner()) = (Arc::new(key), Instant::now());
        Ok(())
    }

    async fn signer(&self) -> Arc<LinkSigner> {
        let (signer, read_at) = self.key.read().unwrap_or_else(|e| e.into_inner()).clone();
        if read_at.elapsed() < KEY_REFRESH {
            return signer;
        }
        // Another request is reading it: this one goes on with the key it has.
        let Ok(_one) = self.reading.try_lock() else {
            return signer;
        };
        match self.read_again().await {
            Ok(()) => self.key.read().unwrap_or_else(|e| e.into_inner()).0.clone(),
            Err(error) => {
                // The key already read still signs and checks; the next call tries again.
                tracing::warn!(%error, "could not read the report links key again");
                signer
            }
        }
    }
}

async fn read_key(store: &dyn WebhookStore) -> Result<LinkSigner, StoreError> {
    let key = store
        .service_secret(REPORT_LINKS_SECRET, &crate::seal::generate_key())
        .await?;
    Ok(LinkSigner::new(&key))
}

/// Replaces the key: every link handed out so far stops opening (`kontragent links rotate`).
pub async fn rotate(store: &dyn WebhookStore) -> Result<(), StoreError> {
    store
        .replace_service_secret(REPORT_LINKS_SECRET, &crate::seal::generate_key())
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(path: &str) -> (String, String) {
        let query = path.split_once('?').unwrap().1;
        let mut exp = String::new();
        let mut sig = String::new();
        for pair in query.split('&') {
            match pair.split_once('=').unwrap() {
                ("exp", v) => exp = v.into(),
                ("sig", v) => sig = v.into(),
                _ => {}
            }
        }
        (exp, sig)
    }

    #[test]
    fn a_link_opens_its_own_report_only_until_it_expires() {
        let links = LinkSigner::new("k1");
        let id = Uuid::now_v7();
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let expires = now + chrono::Duration::days(30);
        let (exp, sig) = parts(&links.path(id, expires));
        assert_eq!(sig.len(), 32);
        let idt = id.to_string();
        assert_eq!(links.open(&idt, &exp, &sig, now), Opened::Valid);
        assert_eq!(
            links.open(&idt.to_uppercase(), &exp, &sig, now),
            Opened::Valid
        );
        assert_eq!(
            links.open(&idt, &exp, &sig, expires),
            Opened::Expired(expires)
        );
        let later = (expires.timestamp() + 86_400).to_string();
        assert_eq!(links.open(&idt, &later, &sig, now), Opened::Invalid);
        assert_eq!(links.open(&idt, "soon", &sig, now), Opened::Invalid);
        let other = Uuid::now_v7().to_string();
        assert_eq!(links.open(&other, &exp, &sig, now), Opened::Invalid);
        let flipped = sig.replace(&sig[..1], if &sig[..1] == "0" { "1" } else { "0" });
        assert_eq!(links.open(&idt, &exp, &flipped, now), Opened::Invalid);
        assert_eq!(links.open(&idt, &exp, "", now), Opened::Invalid);
        assert_eq!(
            LinkSigner::new("k2").open(&idt, &exp, &sig, now),
            Opened::Invalid
        );
    }
}

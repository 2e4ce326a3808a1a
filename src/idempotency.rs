//! `Idempotency-Key` (Stripe's and the IETF draft's semantics): the same key with the same
//! request from the same API key within 24 h gets the first response again; the same key
//! with another request is refused; a repeat while the first still runs is told so.

use crate::storage::{IdempotencyClaim, Store, StoreError, StoredResponse};
use chrono::{Duration, Utc};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// How long a first response is replayed.
pub const REPLAY_WINDOW_H: i64 = 24;
/// A first request still marked running after this is taken for dead (its process stopped).
const ABANDONED_AFTER_H: i64 = 1;
/// The longest key accepted.
pub const MAX_KEY_LEN: usize = 255;

pub struct IdempotencyService {
    store: Arc<dyn Store>,
}

impl IdempotencyService {
    pub fn new(store: Arc<dyn Store>) -> IdempotencyService {
        IdempotencyService { store }
    }

    /// Whether a header value can be a key: 1 to 255 visible ASCII characters.
    pub fn valid_key(key: &str) -> bool {
        (1..=MAX_KEY_LEN).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic())
    }

    /// Claims `key` for a request of `principal`.
    pub async fn claim(
        &self,
        principal: &str,
        key: &str,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<IdempotencyClaim, StoreError> {
        let fingerprint = hex::encode(
            Sha256::new()
                .chain_update(method.as_bytes())
                .chain_update(b" ")
                .chain_update(path.as_bytes())
                .chain_update(b"\n")
                .chain_update(body)
                .finalize(),
        );
        let now = Utc::now();
        self.store
            .claim_idempotency_key(
                principal,
                key,
                &fingerprint,
                now,
                now - Duration::hours(REPLAY_WINDOW_H),
                now - Duration::hours(ABANDONED_AFTER_H),
            )
            .await
    }

    /// Records the response to replay.
    pub async fn finish(
        &self,
        principal: &str,
        key: &str,
        response: &StoredResponse,
    ) -> Result<(), StoreError> {
        self.store
            .finish_idempotency_key(principal, key, response)
            .await
    }

    /// Forgets the key: the request failed on the server and a retry should run.
    pub async fn release(&self, principal: &str, key: &str) -> Result<(), StoreError> {
        self.store.release_idempotency_key(principal, key).await
    }
}

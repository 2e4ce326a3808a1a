//! Persistence behind one [`Store`] trait, with SQLite (the embedded default) and
//! PostgreSQL (for several instances) implementations chosen by the URL scheme.
//!
//! Both speak the same SQL (`$1` placeholders, `ON CONFLICT`, times as unix milliseconds),
//! so the queries are written once, in [`queries`], and instantiated for each pool.

mod application_queries;
mod auth_queries;
mod catalog_queries;
mod idempotency_queries;
mod integration_queries;
mod queries;
pub mod seal_queries;
mod webhook_queries;

use crate::domain::Inn;
use crate::domain::webhook::{AttemptOutcome, AttemptRecord, Delivery, NewDelivery, Subscription};
use crate::seal::Sealer;
use crate::sources::{Evidence, SourceReport};
use chrono::{DateTime, Utc};
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored JSON is corrupt")]
    Json(#[from] serde_json::Error),
    /// A failure shared by every caller waiting on one cached lookup.
    #[error("{0}")]
    Shared(String),
    #[error("cannot create the database directory {0}")]
    Directory(String, #[source] std::io::Error),
    #[error("a stored secret: {0}")]
    Seal(#[from] crate::seal::SealError),
}

/// A check as stored: its state, its outcome and the JSON the API shows.
#[derive(Debug, Clone)]
pub struct StoredCheck {
    pub id: Uuid,
    pub inn: String,
    /// `pending`, `done` or `failed`.
    pub state: String,
    pub decision: Option<String>,
    pub score: Option<i64>,
    pub profile: String,
    pub ruleset_version: Option<String>,
    pub created_at: DateTime<Utc>,
    pub checked_at: Option<DateTime<Utc>>,
    /// The Check as the API shows it, in JSON (kept as text: it is written and served as is).
    pub document: String,
    /// JSON of the facts the rules read.
    pub facts: Option<String>,
    /// Where the check's `check.completed` goes (kept from the first save on).
    pub callback_url: Option<String>,
}

/// A batch of checks as stored; `items` is the JSON of its items in input order.
#[derive(Debug, Clone)]
pub struct StoredBatch {
    pub id: Uuid,
    pub requested_by: String,
    /// `running` or `done`.
    pub state: String,
    pub total: i64,
    pub finished: i64,
    pub items: String,
    pub callback_url: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Where a finished check stands in its INN's history, in the order the database calls
/// "latest": by `checked_at`, then `created_at` (milliseconds, as stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckOrder {
    pub id: Uuid,
    pub checked_at: i64,
    pub created_at: i64,
}

impl CheckOrder {
    /// Whether this check comes after `other` in its INN's history.
    pub fn is_after(&self, other: &CheckOrder) -> bool {
        (self.checked_at, self.created_at) > (other.checked_at, other.created_at)
    }

    /// A stored finished check's place (`None` while it has no `checked_at`).
    pub fn of(check: &StoredCheck) -> Option<CheckOrder> {
        Some(CheckOrder {
            id: check.id,
            checked_at: millis(check.checked_at?),
            created_at: millis(check.created_at),
        })
    }
}

/// A policy file version as stored (of the scoring ruleset or the monitoring policy).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRuleset {
    /// Which policy file: `scoring` or `monitoring`.
    pub kind: String,
    /// SHA-256 of the file's bytes.
    pub version: String,
    pub content: String,
    pub path: String,
    /// When this content was first loaded.
    pub loaded_at: DateTime<Utc>,
    /// Who loaded it: `startup`, `file-watch`, `SIGHUP`, or the name given to the reload API.
    pub author: String,
    pub comment: Option<String>,
}

/// A time a policy file version became the one in force.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyActivation {
    pub kind: String,
    pub version: String,
    /// The file it was read from (or written to, by a rollback).
    pub path: String,
    pub activated_at: DateTime<Utc>,
    /// `startup`, `file-watch`, `SIGHUP`, or the API key (and person) that reloaded or
    /// rolled back.
    pub author: String,
    pub comment: Option<String>,
    /// For a rollback the file could not take: the version of the file it overrides.
    pub pinned_over: Option<String>,
}

/// The catalog of approved contractors, its transitions, feedback and the event feed.
#[async_trait::async_trait]
pub trait CatalogStore: Send + Sync {
    /// Lists a contractor with its first transition and events; `false` when already listed.
    async fn insert_entry(
        &self,
        entry: &crate::domain::catalog::CatalogEntry,
        transition: &crate::domain::catalog::StatusTransition,
        events: &[crate::domain::catalog::NewEvent],
    ) -> Result<bool, StoreError>;

    async fn get_entry(
        &self,
        inn: &str,
    ) -> Result<Option<crate::domain::catalog::CatalogEntry>, StoreError>;

    /// Entries by INN, after the cursor, filtered.
    async fn list_entries(
        &self,
        filter: &crate::domain::catalog::CatalogFilter,
    ) -> Result<Vec<crate::domain::catalog::CatalogEntry>, StoreError>;

    /// Moves an entry from `expected` to `transition.to`, recording the transition and the
    /// events atomically; `false` when the entry was not in `expected` (someone else moved it).
    async fn change_status(
        &self,
        inn: &str,
        expected: crate::domain::catalog::CatalogStatus,
        transition: &crate::domain::catalog::StatusTransition,
        events: &[crate::domain::catalog::NewEvent],
    ) -> Result<bool, StoreError>;

    /// An entry's status changes, oldest first.
    async fn transitions(
        &self,
        inn: &str,
    ) -> Result<Vec<crate::domain::catalog::StatusTransition>, StoreError>;

    /// Stores a quality signal and its event; `false` for a duplicate external id.
    async fn add_feedback(
        &self,
        inn: &str,
        feedback: &crate::domain::catalog::Feedback,
        event: &crate::domain::catalog::NewEvent,
    ) -> Result<bool, StoreError>;

    async fn feedback_since(
        &self,
        inn: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<crate::domain::catalog::Feedback>, StoreError>;

    /// Events after the cursor, in order (of one INN when given).
    /// Events after the cursor, oldest first: of one INN, of some kinds, when given.
    async fn events_after(
        &self,
        after: i64,
        limit: i64,
        inn: Option<&str>,
        kinds: Option<&[&str]>,
    ) -> Result<Vec<crate::domain::catalog::Event>, StoreError>;

    /// Leases one listed (not removed) entry to `owner` now, due or not; `false` when another
    /// pass holds it or it is not monitored.
    async fn claim_entry(
        &self,
        inn: &str,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Gives back a lease `owner` holds, with nothing recorded.
    async fn release_entry(&self, inn: &str, owner: &str) -> Result<(), StoreError>;

    /// Leases up to `limit` entries due for monitoring to `owner` until `lease_until`.
    async fn claim_due(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<String>, StoreError>;

    /// Records a monitoring pass — its check, its events, the next due time, then its status
    /// change if the entry is still where the pass found it — and releases the lease, all at
    /// once and only if `owner` still holds the lease (a pass whose lease expired and was
    /// taken over records nothing, so no event is recorded twice). `None`: the lease was
    /// lost; `Some(moved)`: recorded, and whether the status changed.
    async fn finish_monitoring(
        &self,
        inn: &str,
        owner: &str,
        pass: &crate::domain::catalog::MonitoringPass<'_>,
    ) -> Result<Option<bool>, StoreError>;
}

/// API keys and the audit trail.
#[async_trait::async_trait]
pub trait AuthStore: Send + Sync {
    /// Stores a new key; `false` when an active key has that name.
    async fn insert_key(&self, key: &crate::domain::access::ApiKey) -> Result<bool, StoreError>;

    /// Every key, revoked ones too, oldest first.
    async fn list_keys(&self) -> Result<Vec<crate::domain::access::ApiKey>, StoreError>;

    /// Revokes the active key with this id or name.
    async fn revoke_key(
        &self,
        id_or_name: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<crate::domain::access::ApiKey>, StoreError>;

    async fn key_by_hash(
        &self,
        hash: &str,
    ) -> Result<Option<crate::domain::access::ApiKey>, StoreError>;

    /// Every key ever created, revoked ones too: revoking the last key must not open the service.
    async fn count_keys(&self) -> Result<i64, StoreError>;

    async fn touch_key(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError>;

    async fn record_audit(
        &self,
        entry: &crate::domain::access::AuditEntry,
    ) -> Result<(), StoreError>;

    /// Audit entries after the cursor (an entry id), oldest first, of one INN when given.
    async fn audit_after(
        &self,
        after: Option<&str>,
        limit: i64,
        inn: Option<&str>,
    ) -> Result<Vec<crate::domain::access::AuditEntry>, StoreError>;
}

/// Webhook subscriptions and the outbox of deliveries.
#[async_trait::async_trait]
pub trait WebhookStore: Send + Sync {
    async fn insert_webhook(&self, w: &Subscription) -> Result<(), StoreError>;

    async fn get_webhook(&self, id: &str) -> Result<Option<Subscription>, StoreError>;

    /// Every subscription, oldest first.
    async fn list_webhooks(&self) -> Result<Vec<Subscription>, StoreError>;

    /// Saves every field of `w`; `false` when it no longer exists.
    async fn update_webhook(&self, w: &Subscription) -> Result<bool, StoreError>;

    /// Deletes a subscription and its deliveries; `false` when there was none.
    async fn delete_webhook(&self, id: &str) -> Result<bool, StoreError>;

    /// Adds a delivery due now and returns it.
    async fn insert_delivery(&self, d: &NewDelivery) -> Result<Delivery, StoreError>;

    /// Claims up to `limit` due deliveries for `owner` until `lease_until`: for each
    /// subscription only its oldest pending one (order follows the feed), none of a paused or
    /// disabled subscription, none another instance holds.
    async fn claim_deliveries(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Delivery>, StoreError>;

    /// Records an attempt and the delivery's next state; `false` (nothing written) when
    /// `owner` no longer holds the lease.
    async fn finish_attempt(
        &self,
        delivery_id: &str,
        owner: &str,
        outcome: &AttemptOutcome,
    ) -> Result<bool, StoreError>;

    /// Queues a message that is not a feed event (`check.completed`) to every subscription
    /// that wants its type; returns how many.
    async fn fan_out(
        &self,
        message_id: &str,
        event_type: &str,
        body: &str,
    ) -> Result<u64, StoreError>;

    async fn get_delivery(&self, id: &str) -> Result<Option<Delivery>, StoreError>;

    /// A subscription's deliveries (or a check's callbacks), newest first, before the cursor.
    async fn list_deliveries(
        &self,
        webhook_id: Option<&str>,
        check_id: Option<&str>,
        before: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Delivery>, StoreError>;

    async fn attempts_of(&self, delivery_id: &str) -> Result<Vec<AttemptRecord>, StoreError>;

    /// Makes a finished delivery due again now (its attempts are kept).
    async fn retry_delivery(&self, id: &str, now: DateTime<Utc>) -> Result<bool, StoreError>;

    /// The value of a secret the service keeps for itself, storing `generated` first when
    /// there is none (one value wins across instances).
    async fn service_secret(&self, name: &str, generated: &str) -> Result<String, StoreError>;

    /// Sets a secret the service keeps for itself to `value`, whatever it was.
    async fn replace_service_secret(&self, name: &str, value: &str) -> Result<(), StoreError>;
}

/// Applications from the website's form.
#[async_trait::async_trait]
pub trait ApplicationStore: Send + Sync {
    /// Stores a new application with its first timeline step; with `notify`, a held one
    /// queues the department's message.
    async fn insert_application(
        &self,
        a: &crate::domain::application::Application,
        notify: bool,
    ) -> Result<(), StoreError>;

    /// How many applications came from `client_ip`, and with `phone`, since `since`.
    async fn recent_applications(
        &self,
        client_ip: &str,
        phone: &str,
        since: DateTime<Utc>,
    ) -> Result<(i64, i64), StoreError>;

    async fn get_application(
        &self,
        id: &str,
    ) -> Result<Option<crate::domain::application::Application>, StoreError>;

    /// Newest first, as the filter narrows them.
    async fn list_applications(
        &self,
        filter: &crate::domain::application::ApplicationFilter,
    ) -> Result<Vec<crate::domain::application::Application>, StoreError>;

    /// Records the screening check of a `received` application; `false` when it is no
    /// longer `received`.
    async fn record_screening(
        &self,
        id: &str,
        check_id: &str,
        decision: Option<crate::domain::Decision>,
        stage: crate::domain::application::Stage,
        due_at: Option<DateTime<Utc>>,
        notify: bool,
    ) -> Result<bool, StoreError>;

    /// Saves `a`'s stage and call state with its timeline entry, only if it is still in
    /// `expected`; `false` otherwise.
    async fn apply_application_action(
        &self,
        a: &crate::domain::application::Application,
        expected: crate::domain::application::Stage,
        entry: &crate::domain::application::TimelineEntry,
        mails: &[&str],
    ) -> Result<bool, StoreError>;

    /// Marks the applications whose due call is within `remind` of `now` (`sla_due`) or
    /// past (`sla_breached`) and records those events, each once per due time; every
    /// instance may call it (the marking is atomic). Returns how many events it recorded.
    /// With `notify`, a missed call also queues a message to the department.
    async fn tell_sla(
        &self,
        now: DateTime<Utc>,
        remind: chrono::Duration,
        notify: bool,
    ) -> Result<u64, StoreError>;

    /// Leases up to `limit` due messages to the department to `owner`.
    async fn claim_mail(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<crate::domain::application::QueuedMail>, StoreError>;

    /// Records a sending attempt: `sent`, `pending` (again at `next_attempt_at`) or `failed`.
    async fn finish_mail(
        &self,
        id: &str,
        owner: &str,
        state: &str,
        attempts: i64,
        next_attempt_at: DateTime<Utc>,
        error: Option<&str>,
    ) -> Result<(), StoreError>;

    /// An application's history, oldest first.
    async fn application_timeline(
        &self,
        id: &str,
    ) -> Result<Vec<crate::domain::application::TimelineEntry>, StoreError>;
}

/// A stored first response to an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResponse {
    pub status: u16,
    pub content_type: Option<String>,
    pub location: Option<String>,
    pub body: String,
}

/// What a key's first use finds.
#[derive(Debug, Clone, PartialEq)]
pub enum IdempotencyClaim {
    /// The key is new (or its record expired): go ahead, then record the response.
    Started,
    /// The first request with this key is still running.
    Running,
    /// The key was used with another method, path or body.
    Mismatch,
    /// The first response, to replay.
    Done(StoredResponse),
}

/// `Idempotency-Key` records.
#[async_trait::async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims `key` for `principal`, first forgetting records created before `expired`
    /// and running ones created before `abandoned` (their process died).
    async fn claim_idempotency_key(
        &self,
        principal: &str,
        key: &str,
        fingerprint: &str,
        now: DateTime<Utc>,
        expired: DateTime<Utc>,
        abandoned: DateTime<Utc>,
    ) -> Result<IdempotencyClaim, StoreError>;

    /// Records the response of a claimed key.
    async fn finish_idempotency_key(
        &self,
        principal: &str,
        key: &str,
        response: &StoredResponse,
    ) -> Result<(), StoreError>;

    /// Forgets a claimed key whose request failed on the server, so a retry runs again.
    async fn release_idempotency_key(&self, principal: &str, key: &str) -> Result<(), StoreError>;
}

/// What the CRM connectors keep: Bitrix24 portals and the robot calls they sent, how far
/// the event feed was followed, and amoCRM write-backs.
#[async_trait::async_trait]
pub trait IntegrationStore: Send + Sync {
    /// Inserts or replaces a portal (a reinstall brings new tokens).
    async fn save_portal(&self, portal: &crate::domain::crm::Portal) -> Result<(), StoreError>;
    async fn portal(
        &self,
        member_id: &str,
    ) -> Result<Option<crate::domain::crm::Portal>, StoreError>;
    /// Whether any portal has installed the application.
    async fn any_portal(&self) -> Result<bool, StoreError>;
    async fn update_portal_tokens(
        &self,
        member_id: &str,
        access_token: &str,
        refresh_token: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Records a robot call; `false` when its `event_token` was seen before.
    async fn claim_bitrix24_event(
        &self,
        event_token: &str,
        member_id: &str,
        request: &str,
    ) -> Result<bool, StoreError>;
    async fn finish_bitrix24_event(
        &self,
        event_token: &str,
        state: &str,
        check_id: Option<Uuid>,
        error: Option<&str>,
    ) -> Result<(), StoreError>;
    /// Robot calls still `running` that were received before `before` (a stopped process
    /// left them), as their stored requests.
    async fn unanswered_bitrix24_events(
        &self,
        before: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError>;
    /// Takes over a robot call left `running`; `false` when another instance took it first.
    async fn resume_bitrix24_event(&self, event_token: &str) -> Result<bool, StoreError>;
    /// How far the connector `name` has followed the event feed; the feed's end the first
    /// time it asks.
    async fn integration_cursor(&self, name: &str) -> Result<i64, StoreError>;
    async fn set_integration_cursor(&self, name: &str, seq: i64) -> Result<(), StoreError>;
    /// Whether the verdict for `inn` was written back to this amoCRM entity since `since`.
    async fn amocrm_written_since(
        &self,
        account: &str,
        entity: &str,
        entity_id: u64,
        inn: &str,
        since: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// An amoCRM account's OAuth tokens: access, refresh, and when the access token ends.
    async fn amocrm_tokens(
        &self,
        account: &str,
    ) -> Result<Option<(String, String, DateTime<Utc>)>, StoreError>;
    async fn save_amocrm_tokens(
        &self,
        account: &str,
        access_token: &str,
        refresh_token: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    async fn record_amocrm_write(
        &self,
        account: &str,
        entity: &str,
        entity_id: u64,
        inn: &str,
    ) -> Result<(), StoreError>;
}

/// Secrets at rest: sealing what was stored in clear, and a new key for all of it.
#[async_trait::async_trait]
pub trait SealStore: Send + Sync {
    /// Every secret column opened with `from` and sealed with `to`, in one transaction; with
    /// `only_plain`, just the values not sealed yet. How many values were written.
    async fn reseal(
        &self,
        from: &Sealer,
        to: &Sealer,
        only_plain: bool,
    ) -> Result<usize, StoreError>;
    /// The sealed key-check value, once a key has sealed anything.
    async fn key_check(&self) -> Result<Option<String>, StoreError>;
}

#[async_trait::async_trait]
pub trait Store:
    CatalogStore
    + SealStore
    + AuthStore
    + WebhookStore
    + IdempotencyStore
    + ApplicationStore
    + IntegrationStore
    + Send
    + Sync
{
    /// The database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Stores a source's answer with its raw evidence.
    async fn save_snapshot(&self, inn: &Inn, report: &SourceReport) -> Result<(), StoreError>;

    /// The newest usable (`ok` or `not_found`) answer of `source` for `inn` fetched after `since`.
    async fn latest_snapshot(
        &self,
        source: &str,
        inn: &Inn,
        since: DateTime<Utc>,
    ) -> Result<Option<SourceReport>, StoreError>;

    /// The raw answers behind the newest snapshot of `source` for `inn`.
    async fn evidence_for(&self, source: &str, inn: &Inn) -> Result<Vec<Evidence>, StoreError>;

    /// The raw answers behind the answer `source` gave about `inn` at `fetched_at` (what a
    /// check shows as `sources.<name>.fetched_at`), oldest first.
    async fn evidence_at(
        &self,
        source: &str,
        inn: &Inn,
        fetched_at: DateTime<Utc>,
    ) -> Result<Vec<Evidence>, StoreError>;

    /// Inserts or replaces a check.
    async fn save_check(&self, check: &StoredCheck) -> Result<(), StoreError>;

    /// Saves several checks in one transaction (the group commit of concurrent requests).
    async fn save_checks(&self, checks: &[StoredCheck]) -> Result<(), StoreError>;

    async fn get_check(&self, id: Uuid) -> Result<Option<StoredCheck>, StoreError>;

    /// Records a ruleset version; a version already stored keeps its first record.
    async fn save_ruleset(&self, ruleset: &StoredRuleset) -> Result<(), StoreError>;

    /// Every stored version of the `kind` policy file, newest first.
    async fn list_rulesets(&self, kind: &str) -> Result<Vec<StoredRuleset>, StoreError>;

    /// Records that a policy file version became active.
    async fn record_activation(&self, activation: &PolicyActivation) -> Result<(), StoreError>;

    /// Every activation of the `kind` policy file, newest first.
    async fn activations(&self, kind: &str) -> Result<Vec<PolicyActivation>, StoreError>;

    /// The latest finished check of each INN checked within `[from, to)`, with its facts,
    /// newest first.
    async fn latest_done_checks(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<StoredCheck>, StoreError>;

    /// The checks of `inn`, newest first, created before the `(created_at ms, id)` of
    /// `before` (a page's last check) when given.
    async fn checks_of(
        &self,
        inn: &Inn,
        before: Option<(i64, Uuid)>,
        limit: i64,
    ) -> Result<Vec<StoredCheck>, StoreError>;

    /// Inserts or replaces a batch.
    async fn save_batch(&self, batch: &StoredBatch) -> Result<(), StoreError>;

    async fn get_batch(&self, id: Uuid) -> Result<Option<StoredBatch>, StoreError>;

    /// Batches still `running` that no one updated since `before` (their process stopped).
    async fn stalled_batches(&self, before: DateTime<Utc>) -> Result<Vec<StoredBatch>, StoreError>;

    /// Checks still `pending` that were created before `before` (at most 10 000).
    async fn pending_checks_before(
        &self,
        before: DateTime<Utc>,
    ) -> Result<Vec<StoredCheck>, StoreError>;

    /// The newest finished check of an INN.
    async fn latest_check(&self, inn: &Inn) -> Result<Option<StoredCheck>, StoreError>;

    /// Claims the fetch of (source, key) — the key is an INN, or a job's name — for `holder`
    /// until `until`, unless another holder's
    /// claim is still in force. True when the claim is this holder's now.
    async fn claim_fetch(
        &self,
        source: &str,
        key: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Gives up a claim (only the holder's own).
    async fn release_fetch(&self, source: &str, key: &str, holder: &str) -> Result<(), StoreError>;

    /// The newest answer of a source about an INN stored at or after `since`, whatever its
    /// status (a failure too: another instance just asked).
    async fn answer_since(
        &self,
        source: &str,
        inn: &Inn,
        since: DateTime<Utc>,
    ) -> Result<Option<SourceReport>, StoreError>;

    /// Empties the raw bodies of evidence received before `before` (the row with its URL,
    /// status and SHA-256 stays). Returns how many were emptied.
    async fn prune_evidence(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Up to `limit` finished checks before `before` whose documents are still whole.
    async fn checks_to_prune(
        &self,
        before: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<StoredCheck>, StoreError>;

    /// Replaces a check's document with its pruned form and drops its facts.
    async fn prune_check(&self, id: Uuid, document: &str) -> Result<(), StoreError>;

    /// Rows and bytes of what grows with use: `(name, value)` pairs for `/metrics`.
    async fn storage_sizes(&self) -> Result<Vec<(&'static str, i64)>, StoreError>;

    /// Where the newest finished check of an INN stands: one step down an index, whatever
    /// the INN's history (the document itself comes from memory when it is there).
    async fn latest_check_order(&self, inn: &Inn) -> Result<Option<CheckOrder>, StoreError>;
}

pub struct SqliteStore {
    pool: sqlx::SqlitePool,
    sealer: Arc<Sealer>,
}

pub struct PgStore {
    pool: sqlx::PgPool,
    sealer: Arc<Sealer>,
}

seal_queries::impl_seal_store!(SqliteStore, "PRAGMA wal_checkpoint(TRUNCATE)");
seal_queries::impl_seal_store!(PgStore, "");

queries::impl_store!(SqliteStore);
queries::impl_store!(PgStore);
auth_queries::impl_auth_store!(SqliteStore);
auth_queries::impl_auth_store!(PgStore);

// The catalog and the applications write feed events, with the helpers of one module.
mod sqlite_catalog {
    use super::SqliteStore;
    super::catalog_queries::tx_helpers!(sqlx::Sqlite);
    super::catalog_queries::impl_catalog_store!(SqliteStore, "");
    super::application_queries::impl_application_store!(SqliteStore);
}

mod pg_catalog {
    use super::PgStore;
    super::catalog_queries::tx_helpers!(sqlx::Postgres);
    super::catalog_queries::impl_catalog_store!(PgStore, " FOR UPDATE SKIP LOCKED");
    super::application_queries::impl_application_store!(PgStore);
}
idempotency_queries::impl_idempotency_store!(SqliteStore);
integration_queries::impl_integration_store!(SqliteStore);
integration_queries::impl_integration_store!(PgStore);
idempotency_queries::impl_idempotency_store!(PgStore);
webhook_queries::impl_webhook_store!(SqliteStore, "");
webhook_queries::impl_webhook_store!(PgStore, " FOR UPDATE OF d SKIP LOCKED");

/// A `LIKE … ESCAPE '\'` pattern matching text that contains `text` (lower-cased, as the
/// searched column is): `%`, `_` and `\` in it are literal.
pub fn contains_pattern(text: &str) -> String {
    let mut out = String::from("%");
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// What the catalog's text filter searches: name, INN and services, lower-cased.
fn search_text(e: &crate::domain::catalog::CatalogEntry) -> String {
    format!(
        "{} {} {} {}",
        e.name,
        e.display_name.as_deref().unwrap_or_default(),
        e.inn,
        e.services.join(" ")
    )
    .to_lowercase()
}

/// Connects to the database the URL names, creating (SQLite) and migrating it, with no
/// secrets key: every sealed secret is refused (the CLI's key commands, tools, tests).
pub async fn connect(url: &str, max_connections: u32) -> Result<Arc<dyn Store>, StoreError> {
    connect_sealed(url, max_connections, Arc::new(Sealer::unavailable())).await
}

/// [`connect`] with the key that seals and opens the stored secrets.
pub async fn connect_sealed(
    url: &str,
    max_connections: u32,
    sealer: Arc<Sealer>,
) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        Ok(Arc::new(PgStore { pool, sealer }))
    } else {
        if let Some(dir) = sqlite_file(url).and_then(|p| p.parent().map(|d| d.to_path_buf()))
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(&dir)
                .map_err(|e| StoreError::Directory(dir.display().to_string(), e))?;
        }
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true)
            // What is overwritten or deleted is zeroed, not left in free pages: a secret
            // stored in clear before sealing is gone once sealed.
            .pragma("secure_delete", "ON")
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections)
            .connect_with(options)
            .await?;
        sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        Ok(Arc::new(SqliteStore { pool, sealer }))
    }
}

/// The database URL with any password replaced by `***`, for printing.
pub fn redacted_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// The file path of a `sqlite://path?options` URL (none for in-memory databases).
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path.contains(":memory:") {
        return None;
    }
    Some(std::path::PathBuf::from(path))
}

fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::sqlite_file;

    #[test]
    fn a_password_in_the_url_is_never_shown() {
        assert_eq!(
            super::redacted_url("postgres://kt:s3cret@db:5432/kt"),
            "postgres://kt:***@db:5432/kt"
        );
        assert_eq!(
            super::redacted_url("sqlite://data/k.db"),
            "sqlite://data/k.db"
        );
    }

    #[test]
    fn finds_the_sqlite_file() {
        assert_eq!(
            sqlite_file("sqlite://data/k.db").unwrap().to_str(),
            Some("data/k.db")
        );
        assert_eq!(
            sqlite_file("sqlite:///tmp/k.db?mode=rwc").unwrap().to_str(),
            Some("/tmp/k.db")
        );
        assert!(sqlite_file("sqlite::memory:").is_none());
    }
}

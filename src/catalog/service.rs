//! Catalog use cases: list a contractor, change its status, take quality signals, and
//! compute the quality facts the monitoring policy reads.

use super::{
    CatalogEntry, CatalogFilter, CatalogStatus, Feedback, FeedbackKind, NewEvent, StatusTransition,
};
use crate::config::{CatalogSettings, MonitoringSettings};
use crate::domain::{Decision, Inn};
use crate::facts::{Fact, Facts};
use crate::storage::{Store, StoreError, StoredCheck};
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("INN {0} has never been checked; check it first")]
    NeverChecked(String),
    #[error(
        "the latest check of {inn} decided `{decision}`; listing needs `approve` (or an override with who and why)"
    )]
    NotApproved { inn: String, decision: String },
    #[error(
        "the latest approve of {inn} is from {checked_at}, older than allowed; check it again (or override)"
    )]
    DecisionTooOld {
        inn: String,
        checked_at: DateTime<Utc>,
    },
    #[error("{0} is already in the catalog")]
    AlreadyListed(String),
    #[error("{0} is not in the catalog")]
    NotListed(String),
    #[error("cannot {action} a contractor that is {status}")]
    InvalidTransition {
        action: &'static str,
        status: &'static str,
    },
    #[error("the status changed meanwhile; read it again")]
    Conflict,
    #[error("`{field}`: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("storage failed")]
    Store(#[from] StoreError),
}

/// Who overrides the approve requirement, and why (kept in the timeline).
#[derive(Debug, Clone)]
pub struct Override {
    pub by: String,
    pub reason: String,
}

/// What a caller lists.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    /// The name to list under; without it, the registry's.
    pub name: Option<String>,
    /// The name as the contractor typed it (an application's), kept beside the registry's.
    pub display_name: Option<String>,
    pub region: Option<String>,
    pub contacts: BTreeMap<String, String>,
    pub services: Vec<String>,
    pub external_ids: BTreeMap<String, String>,
    pub override_by: Option<Override>,
    pub actor: Option<String>,
}

/// A manager's action on an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum StatusAction {
    Suspend,
    Reinstate,
    Remove,
    Review,
}

impl StatusAction {
    pub fn parse(s: &str) -> Option<StatusAction> {
        s.parse().ok()
    }

    fn name(self) -> &'static str {
        self.into()
    }

    /// The target status, when the action is allowed from `from`.
    fn target(self, from: CatalogStatus) -> Option<CatalogStatus> {
        use CatalogStatus::*;
        match (self, from) {
            (StatusAction::Suspend, Active | UnderReview) => Some(Suspended),
            (StatusAction::Review, Active) => Some(UnderReview),
            (StatusAction::Reinstate, UnderReview | Suspended) => Some(Active),
            (StatusAction::Remove, Active | UnderReview | Suspended) => Some(Removed),
            _ => None,
        }
    }
}

/// A quality signal as submitted.
#[derive(Debug, Clone)]
pub struct FeedbackInput {
    pub kind: String,
    pub rating: Option<i64>,
    pub category: Option<String>,
    pub text: Option<String>,
    pub order_ref: Option<String>,
    pub on_time: Option<bool>,
    pub external_id: Option<String>,
}

pub struct CatalogService {
    store: Arc<dyn Store>,
    settings: CatalogSettings,
    interval: Duration,
}

fn invalid(field: &'static str, message: impl Into<String>) -> CatalogError {
    CatalogError::Invalid {
        field,
        message: message.into(),
    }
}

/// At most `max_items` strings of at most 200 characters each.
fn check_items<'a>(
    field: &'static str,
    items: impl Iterator<Item = &'a String>,
    max_items: usize,
) -> Result<(), CatalogError> {
    let mut count = 0;
    for item in items {
        count += 1;
        if count > max_items {
            return Err(invalid(field, format!("at most {max_items} entries")));
        }
        if item.chars().count() > 200 {
            return Err(invalid(field, "each entry at most 200 characters"));
        }
    }
    Ok(())
}

fn check_len(field: &'static str, value: &Option<String>, max: usize) -> Result<(), CatalogError> {
    match value {
        Some(v) if v.chars().count() > max => {
            Err(invalid(field, format!("at most {max} characters")))
        }
        _ => Ok(()),
    }
}

/// The transition of `entry` to `to` and its `status_changed` event.
pub fn status_change(
    entry: &CatalogEntry,
    to: CatalogStatus,
    reason: String,
    rule_ids: Vec<String>,
    actor: &str,
) -> crate::catalog::StatusChange {
    let payload = json!({"from": entry.status, "to": to, "reason": reason, "rule_ids": rule_ids, "actor": actor});
    crate::catalog::StatusChange {
        expected: entry.status,
        transition: StatusTransition {
            from: Some(entry.status),
            to,
            reason,
            rule_ids,
            actor: actor.to_owned(),
            at: Utc::now(),
        },
        event: NewEvent {
            inn: entry.inn.clone(),
            kind: "status_changed".into(),
            payload,
        },
    }
}

impl CatalogService {
    pub fn new(
        store: Arc<dyn Store>,
        settings: CatalogSettings,
        monitoring: &MonitoringSettings,
    ) -> CatalogService {
        let interval =
            Duration::seconds(i64::try_from(monitoring.interval_s.max(1)).unwrap_or(86_400));
        CatalogService {
            store,
            settings,
            interval,
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Leases up to `limit` entries due for monitoring to `owner` until `lease_until`.
    /// Leases one contractor for a pass now; `Conflict` while another pass holds it, or when
    /// it was removed (a removed contractor is not monitored).
    pub async fn claim_entry(
        &self,
        inn: &str,
        owner: &str,
        now: chrono::DateTime<Utc>,
        lease_until: chrono::DateTime<Utc>,
    ) -> Result<(), CatalogError> {
        self.get(inn).await?;
        match self.store.claim_entry(inn, owner, now, lease_until).await? {
            true => Ok(()),
            false => Err(CatalogError::Conflict),
        }
    }

    /// Gives back a lease taken with [`CatalogService::claim_entry`], recording nothing.
    pub async fn release(&self, inn: &str, owner: &str) -> Result<(), CatalogError> {
        Ok(self.store.release_entry(inn, owner).await?)
    }

    pub async fn claim_due(
        &self,
        owner: &str,
        now: chrono::DateTime<Utc>,
        lease_until: chrono::DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<String>, CatalogError> {
        Ok(self.store.claim_due(owner, now, lease_until, limit).await?)
    }

    /// Records a monitoring pass and releases its lease, only while `owner` holds it
    /// (see [`crate::storage::CatalogStore::finish_monitoring`]).
    pub async fn finish_monitoring(
        &self,
        inn: &str,
        owner: &str,
        pass: &crate::catalog::MonitoringPass<'_>,
    ) -> Result<Option<bool>, CatalogError> {
        Ok(self.store.finish_monitoring(inn, owner, pass).await?)
    }

    /// Events after the cursor, in order: of one INN, of the types a pattern (a type,
    /// `prefix.*` or `*`) matches, when given.
    pub async fn events(
        &self,
        after: i64,
        limit: i64,
        inn: Option<&str>,
        types: Option<&str>,
    ) -> Result<Vec<crate::catalog::Event>, CatalogError> {
        let kinds = match types {
            Some(pattern) => {
                let kinds = crate::domain::events::kinds_matching(pattern);
                if kinds.is_empty() {
                    return Err(invalid(
                        "type",
                        "a feed type (`catalog.listed`), a prefix (`catalog.*`) or `*`",
                    ));
                }
                Some(kinds)
            }
            None => None,
        };
        Ok(self
            .store
            .events_after(after, limit, inn, kinds.as_deref())
            .await?)
    }

    /// Lists a contractor: its latest check must be a fresh `approve`, unless a manager
    /// overrides with who and why. The first re-check is spread over the interval, so a
    /// catalog filled at once is not re-checked at once.
    pub async fn list(&self, inn: &Inn, listing: Listing) -> Result<CatalogEntry, CatalogError> {
        let now = Utc::now();
        let latest = self.store.latest_check(inn).await?;
        let reason = match (&latest, &listing.override_by) {
            (_, Some(o)) => {
                if o.by.trim().is_empty() || o.reason.trim().is_empty() {
                    return Err(invalid("override", "needs both `by` and `reason`"));
                }
                format!("listed by override of {}: {}", o.by, o.reason)
            }
            (None, None) => return Err(CatalogError::NeverChecked(inn.to_string())),
            (Some(check), None) => {
                let decision = check.decision.clone().unwrap_or_default();
                if decision != Decision::Approve.as_str() {
                    return Err(CatalogError::NotApproved {
                        inn: inn.to_string(),
                        decision,
                    });
                }
                let checked_at = check.checked_at.unwrap_or(check.created_at);
                let max_age = Duration::seconds(
                    i64::try_from(self.settings.max_decision_age_s).unwrap_or(i64::MAX / 1000),
                );
                if now - checked_at > max_age {
                    return Err(CatalogError::DecisionTooOld {
                        inn: inn.to_string(),
                        checked_at,
                    });
                }
                format!("listed after check {} decided approve", check.id)
            }
        };
        for (field, value, max) in [
            ("name", &listing.name, 500),
            ("region", &listing.region, 200),
            (
                "override",
                &listing.override_by.as_ref().map(|o| o.reason.clone()),
                2000,
            ),
        ] {
            check_len(field, value, max)?;
        }
        for (field, map) in [
            ("contacts", &listing.contacts),
            ("external_ids", &listing.external_ids),
        ] {
            check_items(field, map.iter().flat_map(|(k, v)| [k, v]), 40)?;
        }
        check_items("services", listing.services.iter(), 50)?;
        // The registry's name, region and address; the name given at listing is kept as
        // `display_name` where the registries have one of their own.
        let company: serde_json::Value = latest
            .as_ref()
            .and_then(|c| serde_json::from_str::<serde_json::Value>(&c.document).ok())
            .map(|check| check["company"].clone())
            .unwrap_or_default();
        let registry = |field: &str| company[field].as_str().map(str::to_owned);
        let given = |n: &Option<String>| n.clone().filter(|n| !n.trim().is_empty());
        let name = given(&listing.name)
            .or_else(|| registry("name"))
            .or_else(|| given(&listing.display_name))
            .ok_or_else(|| invalid("name", "required when the registries gave none"))?;
        let display_name = given(&listing.display_name).filter(|typed| *typed != name);
        let spread = fastrand::i64(0..=self.interval.num_seconds().max(1));
        let entry = CatalogEntry {
            inn: inn.to_string(),
            name,
            display_name,
            region: listing.region.or_else(|| registry("region")),
            address: registry("address"),
            contacts: listing.contacts,
            services: listing.services,
            external_ids: listing.external_ids,
            status: CatalogStatus::Active,
            listed_at: now,
            updated_at: now,
            last_check_id: latest.as_ref().map(|c| c.id.to_string()),
            next_check_at: now + Duration::seconds(spread),
            monitoring_passes: 0,
            sources_unavailable: BTreeMap::new(),
        };
        let actor = listing
            .override_by
            .as_ref()
            .map(|o| o.by.clone())
            .or(listing.actor)
            .unwrap_or_else(|| "api".into());
        let transition = StatusTransition {
            from: None,
            to: CatalogStatus::Active,
            reason,
            rule_ids: Vec::new(),
            actor: actor.clone(),
            at: now,
        };
        let event = NewEvent {
            inn: entry.inn.clone(),
            kind: "listed".into(),
            payload: json!({"status": "active", "actor": actor, "check_id": entry.last_check_id,
                            "override": listing.override_by.as_ref().map(|o| json!({"by": o.by, "reason": o.reason}))}),
        };
        if !self
            .store
            .insert_entry(&entry, &transition, &[event])
            .await?
        {
            return Err(CatalogError::AlreadyListed(inn.to_string()));
        }
        Ok(entry)
    }

    pub async fn get(&self, inn: &str) -> Result<CatalogEntry, CatalogError> {
        self.store
            .get_entry(inn)
            .await?
            .ok_or_else(|| CatalogError::NotListed(inn.to_owned()))
    }

    /// An entry with its latest check and its status timeline.
    pub async fn detail(
        &self,
        inn: &Inn,
    ) -> Result<(CatalogEntry, Option<StoredCheck>, Vec<StatusTransition>), CatalogError> {
        let entry = self.get(inn.as_str()).await?;
        let latest = self.store.latest_check(inn).await?;
        let timeline = self.store.transitions(inn.as_str()).await?;
        Ok((entry, latest, timeline))
    }

    pub async fn list_entries(
        &self,
        filter: &CatalogFilter,
    ) -> Result<Vec<CatalogEntry>, CatalogError> {
        Ok(self.store.list_entries(filter).await?)
    }

    /// A manager's status change, recorded with who and why.
    pub async fn set_status(
        &self,
        inn: &str,
        action: StatusAction,
        actor: &str,
        comment: &str,
    ) -> Result<CatalogEntry, CatalogError> {
        if comment.trim().is_empty() {
            return Err(invalid("comment", "say why"));
        }
        check_len("comment", &Some(comment.to_owned()), 2000)?;
        if actor.trim().is_empty() {
            return Err(invalid("actor", "say who"));
        }
        let entry = self.get(inn).await?;
        let to = action
            .target(entry.status)
            .ok_or(CatalogError::InvalidTransition {
                action: action.name(),
                status: entry.status.as_str(),
            })?;
        self.transition(&entry, to, comment.to_owned(), Vec::new(), actor)
            .await?;
        self.get(inn).await
    }

    /// Moves an entry and records the transition and its event; `Conflict` if it moved meanwhile.
    pub async fn transition(
        &self,
        entry: &CatalogEntry,
        to: CatalogStatus,
        reason: String,
        rule_ids: Vec<String>,
        actor: &str,
    ) -> Result<(), CatalogError> {
        self.apply(status_change(entry, to, reason, rule_ids, actor))
            .await
    }

    /// Records a status change if the entry is still where it was; `Conflict` otherwise.
    pub async fn apply(&self, change: crate::catalog::StatusChange) -> Result<(), CatalogError> {
        let crate::catalog::StatusChange {
            expected,
            transition,
            event,
        } = change;
        let inn = event.inn.clone();
        if self
            .store
            .change_status(&inn, expected, &transition, &[event])
            .await?
        {
            Ok(())
        } else {
            Err(CatalogError::Conflict)
        }
    }

    /// Validates and stores a quality signal; `Ok(false)` for a duplicate external id.
    pub async fn feedback(&self, inn: &str, input: FeedbackInput) -> Result<bool, CatalogError> {
        let kind = FeedbackKind::parse(&input.kind).ok_or_else(|| {
            invalid(
                "kind",
                "one of review, complaint, sla_breach, job_completed",
            )
        })?;
        check_len("text", &input.text, 4000)?;
        check_len("category", &input.category, 100)?;
        check_len("order_ref", &input.order_ref, 200)?;
        check_len("external_id", &input.external_id, 200)?;
        match kind {
            FeedbackKind::Review => match input.rating {
                Some(r) if (1..=5).contains(&r) => {}
                Some(_) => return Err(invalid("rating", "from 1 to 5")),
                None => return Err(invalid("rating", "a review needs a rating from 1 to 5")),
            },
            _ if input.rating.is_some() => {
                return Err(invalid("rating", "only a review has a rating"));
            }
            FeedbackKind::Complaint if input.category.is_none() && input.text.is_none() => {
                return Err(invalid(
                    "category",
                    "a complaint needs a category or a text",
                ));
            }
            FeedbackKind::JobCompleted if input.on_time.is_none() => {
                return Err(invalid("on_time", "say whether the job was done on time"));
            }
            _ => {}
        }
        self.get(inn).await?;
        let fb = Feedback {
            kind: kind.clone(),
            rating: input.rating,
            category: input.category,
            text: input.text,
            order_ref: input.order_ref,
            on_time: input.on_time,
            external_id: input.external_id,
            at: Utc::now(),
        };
        let event = NewEvent {
            inn: inn.to_owned(),
            kind: "feedback".into(),
            payload: json!({"kind": kind, "rating": fb.rating, "category": fb.category, "order_ref": fb.order_ref,
                            "on_time": fb.on_time, "external_id": fb.external_id}),
        };
        Ok(self.store.add_feedback(inn, &fb, &event).await?)
    }

    /// The quality facts of an entry: rolling rating, complaints, SLA breaches, on-time ratio.
    pub async fn quality_facts(
        &self,
        inn: &str,
        now: DateTime<Utc>,
    ) -> Result<Facts, CatalogError> {
        let rating_since = now - Duration::days(i64::from(self.settings.rating_window_days));
        let incident_since = now - Duration::days(i64::from(self.settings.incident_window_days));
        let all = self
            .store
            .feedback_since(inn, rating_since.min(incident_since))
            .await?;
        let ratings: Vec<i64> = all
            .iter()
            .filter(|f| f.kind == FeedbackKind::Review && f.at >= rating_since)
            .filter_map(|f| f.rating)
            .collect();
        let recent = |k: FeedbackKind| {
            all.iter()
                .filter(move |f| f.kind == k && f.at >= incident_since)
        };
        let jobs: Vec<bool> = recent(FeedbackKind::JobCompleted)
            .filter_map(|f| f.on_time)
            .collect();
        let fact = |value: serde_json::Value| Fact {
            value,
            source: Some("catalog".into()),
            as_of: Some(now),
        };
        let avg = (!ratings.is_empty())
            .then(|| ratings.iter().sum::<i64>() as f64 / ratings.len() as f64);
        let on_time = (!jobs.is_empty())
            .then(|| jobs.iter().filter(|b| **b).count() as f64 / jobs.len() as f64);
        Ok(Facts::from([
            ("quality.rating_avg".to_owned(), fact(json!(avg))),
            (
                "quality.rating_count".to_owned(),
                fact(json!(ratings.len())),
            ),
            (
                "quality.complaints".to_owned(),
                fact(json!(recent(FeedbackKind::Complaint).count())),
            ),
            (
                "quality.sla_breaches".to_owned(),
                fact(json!(recent(FeedbackKind::SlaBreach).count())),
            ),
            ("quality.jobs_completed".to_owned(), fact(json!(jobs.len()))),
            ("quality.on_time_ratio".to_owned(), fact(json!(on_time))),
        ]))
    }
}

/// The stored check's decision, if it finished.
pub fn decision_of(check: &StoredCheck) -> Option<Decision> {
    check.decision.as_deref().and_then(Decision::parse)
}

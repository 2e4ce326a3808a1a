//! The catalog of approved contractors: list, browse, look up, change status, feedback;
//! and the event feed. Thin handlers over [`crate::catalog::CatalogService`].

use super::AppState;
use super::audit::AuditNote;
use super::errors::{ApiError, Problem};
use super::query::Query;
use crate::auth::Principal;
use crate::catalog::{
    CatalogEntry, CatalogFilter, CatalogStatus, Event, FeedbackInput, Listing, Override,
    StatusAction, StatusTransition,
};
use crate::check::Check;
use crate::domain::Inn;
use crate::monitoring::MonitoringRun;
use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Who lists a contractor without a fresh `approve`, and why.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OverrideBody {
    #[schema(example = "m.petrova")]
    pub by: String,
    #[schema(example = "Долгосрочный партнёр, проверен вручную")]
    pub reason: String,
}

/// A contractor to list.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"inn": "7701000019", "region": "Москва", "contacts": {"phone": "+74950000000"},
    "services": ["грузоперевозки"], "external_ids": {"bitrix24": "1234"}, "actor": "m.petrova"}))]
pub struct ListingBody {
    #[schema(value_type = String, required = true, pattern = "^\\s*[0-9]{10}([0-9]{2})?\\s*$")]
    pub inn: Option<String>,
    /// Defaults to the name the registries gave.
    pub name: Option<String>,
    pub region: Option<String>,
    #[serde(default)]
    pub contacts: BTreeMap<String, String>,
    #[serde(default)]
    pub services: Vec<String>,
    #[serde(default)]
    pub external_ids: BTreeMap<String, String>,
    /// Lists without a fresh `approve`; recorded in the timeline.
    #[serde(rename = "override")]
    pub override_by: Option<OverrideBody>,
    /// The person who lists it; recorded beside the API key's name, never instead of it.
    pub actor: Option<String>,
}

/// List a contractor in the catalog.
///
/// Needs a latest check that decided `approve` no longer ago than `catalog.max_decision_age_s`,
/// or an `override` saying who and why.
#[utoipa::path(
    tag = "catalog",
    request_body = ListingBody,
    responses(
        (status = 201, body = CatalogEntry),
        (status = 409, description = "`already_listed`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`not_checked`, `not_approved`, `decision_too_old`, `invalid_field`, INN codes", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/catalog")]
pub async fn list_contractor(
    state: web::Data<AppState>,
    principal: web::ReqData<Principal>,
    body: super::json::Json<ListingBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let inn = Inn::parse(body.inn.as_deref().unwrap_or_default()).map_err(ApiError::Inn)?;
    let note = AuditNote::action("catalog.list")
        .inn(inn.as_str())
        .on_behalf_of(body.actor.as_deref());
    let note = match &body.override_by {
        Some(o) => note.detail(format!("override by {}: {}", o.by, o.reason)),
        None => note,
    };
    let actor = principal.actor(body.actor.as_deref());
    let listing = Listing {
        name: body.name,
        display_name: None,
        region: body.region,
        contacts: body.contacts,
        services: body.services,
        external_ids: body.external_ids,
        override_by: body.override_by.map(|o| Override {
            by: principal.actor(Some(&o.by)),
            reason: o.reason,
        }),
        actor: Some(actor.clone()),
    };
    let entry = state.catalog.list(&inn, listing).await?;
    Ok(note.on(HttpResponse::Created()
        .insert_header(("Location", format!("/v1/catalog/{}", entry.inn)))
        .json(entry)))
}

/// Unknown query parameters (cache-busters, UTM tags) are ignored.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct CatalogQuery {
    pub status: Option<CatalogStatus>,
    pub region: Option<String>,
    /// Text to find in the name, INN or services.
    pub text: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `public`: only active contractors, and only the fields a website shows.
    pub view: Option<CatalogView>,
}

/// How much of each entry a catalog page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CatalogView {
    /// Every field (the default).
    Full,
    /// Active contractors only, with the fields a website shows.
    Public,
}

/// What the public listing shows of a contractor.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"inn": "7701000019", "name": "ООО \"СЕВЕРНЫЙ ВЕТЕР\"", "region": "Москва", "services": ["грузоперевозки"]}))]
pub struct PublicEntry {
    pub inn: String,
    pub name: String,
    pub region: Option<String>,
    pub services: Vec<String>,
}

/// A page of the catalog.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"items": [], "next_cursor": null}))]
pub struct CatalogPage {
    /// Entries (`CatalogEntry`), or `PublicEntry` with `view=public`.
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<serde_json::Value>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Browse the catalog (`view=public` for the website: active contractors, minimal fields).
#[utoipa::path(
    tag = "catalog",
    params(CatalogQuery),
    responses((status = 200, body = CatalogPage), (status = 422, description = "`invalid_field`", body = Problem, content_type = "application/problem+json"))
)]
#[get("/catalog")]
pub async fn browse_catalog(
    state: web::Data<AppState>,
    query: Query<CatalogQuery>,
) -> Result<HttpResponse, ApiError> {
    catalog_page(&state, query.into_inner()).await
}

/// What the website may ask of the public catalog.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct PublicCatalogQuery {
    pub region: Option<String>,
    /// Text to find in the name, INN or services.
    pub text: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// The public catalog for the website: active contractors with the fields a site shows
/// (scope `public`: a publishable key; rate-limited per client IP).
#[utoipa::path(
    tag = "catalog",
    params(PublicCatalogQuery),
    responses(
        (status = 200, description = "Items are `PublicEntry`", body = CatalogPage),
        (status = 422, description = "`invalid_field`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = String, description = "seconds"))),
    )
)]
#[get("/public/catalog")]
pub async fn public_catalog(
    state: web::Data<AppState>,
    query: Query<PublicCatalogQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let query = CatalogQuery {
        status: None,
        region: q.region,
        text: q.text,
        cursor: q.cursor,
        limit: q.limit,
        view: Some(CatalogView::Public),
    };
    catalog_page(&state, query).await
}

async fn catalog_page(state: &AppState, q: CatalogQuery) -> Result<HttpResponse, ApiError> {
    let public = q.view == Some(CatalogView::Public);
    let status = if public {
        Some(CatalogStatus::Active)
    } else {
        q.status
    };
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::query("limit", "from 1 to 200"));
    }
    let filter = CatalogFilter {
        status,
        region: q.region,
        text: q
            .text
            .map(|t| t.to_lowercase())
            .filter(|t| !t.trim().is_empty()),
        after: q.cursor,
        limit: limit + 1,
    };
    let mut entries = state.catalog.list_entries(&filter).await?;
    let next_cursor = if entries.len() as i64 > limit {
        entries.truncate(limit as usize);
        entries.last().map(|e| e.inn.clone())
    } else {
        None
    };
    let items = entries
        .into_iter()
        .map(|e| {
            if public {
                serde_json::to_value(PublicEntry {
                    inn: e.inn,
                    name: e.name,
                    region: e.region,
                    services: e.services,
                })
            } else {
                serde_json::to_value(e)
            }
        })
        .collect::<Result<_, _>>()
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(CatalogPage { items, next_cursor }))
}

/// A contractor with its latest check and its status timeline.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"entry": {"inn": "7702000332", "name": "ООО \"ПОВОРОТ\"", "status": "suspended"},
    "latest_check": {"decision": "reject"}, "timeline": [
        {"from": null, "to": "active", "reason": "listed after check 01a2… decided approve", "rule_ids": [], "actor": "crm (m.petrova)", "at": "2026-11-27T10:00:00Z"},
        {"from": "active", "to": "suspended", "reason": "The latest check decided reject (before: approve)", "rule_ids": ["decision_reject", "bankruptcy_started"], "actor": "monitoring", "at": "2026-11-28T10:00:00Z"}]}))]
pub struct CatalogDetail {
    pub entry: CatalogEntry,
    pub latest_check: Option<Check>,
    /// Every status change, oldest first.
    pub timeline: Vec<StatusTransition>,
}

/// One contractor: the entry, its latest decision and its timeline.
#[utoipa::path(
    tag = "catalog",
    params(("inn" = String, Path, description = "INN, 10 or 12 digits", pattern = "^[0-9]{10}([0-9]{2})?$")),
    responses((status = 200, body = CatalogDetail), (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"))
)]
#[get("/catalog/{inn}")]
pub async fn catalog_entry(
    state: web::Data<AppState>,
    inn: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let inn = Inn::parse(&inn).map_err(ApiError::Inn)?;
    let (entry, latest, timeline) = state.catalog.detail(&inn).await?;
    let latest_check = match latest {
        Some(c) => Some(serde_json::from_str(&c.document).map_err(ApiError::internal)?),
        None => None,
    };
    Ok(HttpResponse::Ok().json(CatalogDetail {
        entry,
        latest_check,
        timeline,
    }))
}

/// A manager's status change.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"action": "reinstate", "comment": "Претензия урегулирована", "actor": "m.petrova"}))]
pub struct StatusBody {
    /// `suspend`, `review`, `reinstate` or `remove`.
    #[schema(pattern = "^(suspend|review|reinstate|remove)$")]
    pub action: String,
    pub comment: String,
    /// The person acting; recorded beside the API key's name, never instead of it.
    pub actor: Option<String>,
}

/// Suspend, put under review, reinstate or remove a contractor (recorded with who and why).
#[utoipa::path(
    tag = "catalog",
    params(("inn" = String, Path, description = "INN, 10 or 12 digits", pattern = "^[0-9]{10}([0-9]{2})?$")),
    request_body = StatusBody,
    responses(
        (status = 200, body = CatalogEntry),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invalid_transition`, `conflict`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_field`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/catalog/{inn}/status")]
pub async fn change_status(
    state: web::Data<AppState>,
    principal: web::ReqData<Principal>,
    inn: web::Path<String>,
    body: super::json::Json<StatusBody>,
) -> Result<HttpResponse, ApiError> {
    let inn = Inn::parse(&inn).map_err(ApiError::Inn)?;
    let action = StatusAction::parse(&body.action).ok_or_else(|| ApiError::InvalidField {
        field: "action",
        message: "suspend, review, reinstate or remove".into(),
    })?;
    let actor = principal.actor(body.actor.as_deref());
    let entry = state
        .catalog
        .set_status(inn.as_str(), action, &actor, &body.comment)
        .await?;
    Ok(AuditNote::action(format!("catalog.{}", body.action))
        .inn(inn.as_str())
        .on_behalf_of(body.actor.as_deref())
        .detail(body.comment.clone())
        .on(HttpResponse::Ok().json(entry)))
}

/// A quality signal about a listed contractor.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "review", "rating": 2, "text": "Опоздали на два дня", "order_ref": "A-17", "external_id": "site-review-981"}))]
pub struct FeedbackBody {
    /// `review` (with `rating` 1–5), `complaint` (with `category` or `text`), `sla_breach`,
    /// `job_completed` (with `on_time`).
    #[schema(pattern = "^(review|complaint|sla_breach|job_completed)$")]
    pub kind: String,
    #[serde(default, deserialize_with = "crate::domain::lenient::integer")]
    pub rating: Option<i64>,
    pub category: Option<String>,
    /// Free text; `comment` is accepted too, the name the status actions use.
    #[serde(alias = "comment")]
    pub text: Option<String>,
    pub order_ref: Option<String>,
    pub on_time: Option<bool>,
    /// The sender's id of this signal: a repeat with the same id is ignored.
    pub external_id: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"accepted": true, "duplicate": false}))]
pub struct FeedbackAccepted {
    pub accepted: bool,
    /// True when a signal with the same `external_id` was already recorded.
    pub duplicate: bool,
}

/// Record a review, complaint, SLA breach or completed job.
#[utoipa::path(
    tag = "catalog",
    params(("inn" = String, Path, description = "INN, 10 or 12 digits", pattern = "^[0-9]{10}([0-9]{2})?$")),
    request_body = FeedbackBody,
    responses(
        (status = 201, description = "Recorded", body = FeedbackAccepted),
        (status = 200, description = "A duplicate `external_id`: ignored", body = FeedbackAccepted),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_field`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/catalog/{inn}/feedback")]
pub async fn add_feedback(
    state: web::Data<AppState>,
    inn: web::Path<String>,
    body: super::json::Json<FeedbackBody>,
) -> Result<HttpResponse, ApiError> {
    let inn = Inn::parse(&inn).map_err(ApiError::Inn)?;
    let b = body.into_inner();
    let note = AuditNote::action("catalog.feedback")
        .inn(inn.as_str())
        .detail(b.kind.clone());
    let input = FeedbackInput {
        kind: b.kind,
        rating: b.rating,
        category: b.category,
        text: b.text,
        order_ref: b.order_ref,
        on_time: b.on_time,
        external_id: b.external_id,
    };
    if state.monitor.record_feedback(inn.as_str(), input).await? {
        Ok(note.on(HttpResponse::Created().json(FeedbackAccepted {
            accepted: true,
            duplicate: false,
        })))
    } else {
        Ok(HttpResponse::Ok().json(FeedbackAccepted {
            accepted: false,
            duplicate: true,
        }))
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct EventsQuery {
    /// Events after this cursor (`next_cursor` of the previous page; 0 from the start).
    #[param(minimum = 0)]
    pub after: Option<i64>,
    /// Only events of this type: `catalog.status_changed`, a prefix `monitoring.*`, or `*`.
    #[serde(rename = "type")]
    #[param(rename = "type", max_length = 100)]
    pub event_type: Option<String>,
    /// Only events about this INN (on `/v1/events`; the contractor's feed has it in the path).
    #[param(pattern = "^[0-9]{10}([0-9]{2})?$")]
    pub inn: Option<String>,
    /// Page size, 1–1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// A page of the event feed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"items": [], "next_cursor": 42}))]
pub struct EventPage {
    pub items: Vec<Event>,
    /// Pass as `after` for the next page (the last event's `seq`, or the same cursor when empty).
    pub next_cursor: i64,
}

async fn event_page(
    state: &AppState,
    query: EventsQuery,
    inn: Option<&str>,
) -> Result<HttpResponse, ApiError> {
    let after = query.after.unwrap_or(0);
    if after < 0 {
        return Err(ApiError::query("after", "0 or a `next_cursor`"));
    }
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::query("limit", "from 1 to 1000"));
    }
    let queried = query
        .inn
        .as_deref()
        .map(Inn::parse)
        .transpose()
        .map_err(|e| ApiError::query("inn", &e.to_string()))?;
    let inn = inn.or(queried.as_ref().map(Inn::as_str));
    let items = state
        .catalog
        .events(after, limit, inn, query.event_type.as_deref())
        .await
        .map_err(|e| match e {
            crate::catalog::CatalogError::Invalid { field, message } => {
                ApiError::query(field, &message)
            }
            other => other.into(),
        })?;
    let next_cursor = items.last().map_or(after, |e| e.seq);
    Ok(HttpResponse::Ok().json(EventPage { items, next_cursor }))
}

/// Every event and status change, in order, from a stable cursor (the notifications outbox).
#[utoipa::path(tag = "events", params(EventsQuery), responses((status = 200, body = EventPage)))]
#[get("/events")]
pub async fn events(
    state: web::Data<AppState>,
    query: Query<EventsQuery>,
) -> Result<HttpResponse, ApiError> {
    event_page(&state, query.into_inner(), None).await
}

/// One contractor's events.
#[utoipa::path(
    tag = "events",
    params(("inn" = String, Path, description = "INN, 10 or 12 digits", pattern = "^[0-9]{10}([0-9]{2})?$"), EventsQuery),
    responses((status = 200, body = EventPage))
)]
#[get("/catalog/{inn}/events")]
pub async fn contractor_events(
    state: web::Data<AppState>,
    inn: web::Path<String>,
    query: Query<EventsQuery>,
) -> Result<HttpResponse, ApiError> {
    let inn = Inn::parse(&inn).map_err(ApiError::Inn)?;
    event_page(&state, query.into_inner(), Some(inn.as_str())).await
}

/// Re-checks one listed contractor now, due or not, fresh from the registries (no answer
/// reused): the monitoring pass (check, change events, the monitoring policy's status
/// change) in this request.
#[utoipa::path(
    tag = "catalog",
    params(("inn" = String, Path, description = "INN, 10 or 12 digits", pattern = "^[0-9]{10}([0-9]{2})?$")),
    responses(
        (status = 200, description = "The pass: its check, the events and the status change it recorded", body = crate::monitoring::Pass),
        (status = 404, description = "`not_found`: not listed", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`conflict`: a pass of this contractor is running, or it was removed", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/catalog/{inn}/recheck")]
pub async fn recheck(
    state: web::Data<AppState>,
    principal: web::ReqData<Principal>,
    inn: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let inn = Inn::parse(&inn).map_err(ApiError::Inn)?;
    state
        .checks
        .budget()
        .admit(&super::checks::budget_key(Some(&principal)), 1)?;
    let pass = state.monitor.recheck(&inn).await?;
    Ok(AuditNote::action("catalog.recheck")
        .inn(inn.as_str())
        .detail(format!("check {}", pass.check.id))
        .on(HttpResponse::Ok().json(pass)))
}

/// How long `POST /v1/monitoring/run` waits for its run.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct RunQuery {
    /// Milliseconds to wait before answering `202` (default 60000, at most 600000).
    #[param(minimum = 0, maximum = 600_000)]
    pub wait_ms: Option<u64>,
}

/// Re-check every contractor that is due now (the scheduler does this on its own).
///
/// The run goes on in the background whatever happens to this request: `200` with the
/// finished run when it ends within `wait_ms`, else `202` with `Location` to poll.
#[utoipa::path(
    tag = "catalog",
    params(RunQuery),
    responses(
        (status = 200, description = "The finished run", body = MonitoringRun),
        (status = 202, description = "Still running; poll `Location`", body = MonitoringRun,
            headers(("Location" = String, description = "/v1/monitoring/runs/{id}"))),
    )
)]
#[post("/monitoring/run")]
pub async fn run_monitoring(
    state: web::Data<AppState>,
    query: Query<RunQuery>,
) -> Result<HttpResponse, ApiError> {
    let wait_ms = query.into_inner().wait_ms.unwrap_or(60_000);
    if wait_ms > 600_000 {
        return Err(ApiError::query("wait_ms", "at most 600000"));
    }
    let (started, handle) = state.monitor.start_run();
    let note = AuditNote::action("monitoring.run").detail(started.id.to_string());
    match tokio::time::timeout(std::time::Duration::from_millis(wait_ms), handle).await {
        Ok(Ok(run)) => Ok(note.on(HttpResponse::Ok().json(run))),
        Ok(Err(join)) => Err(ApiError::internal(join)),
        Err(_) => Ok(note.on(HttpResponse::Accepted()
            .insert_header(("Location", format!("/v1/monitoring/runs/{}", started.id)))
            .json(started))),
    }
}

/// A monitoring run started through the API on this instance.
#[utoipa::path(
    tag = "catalog",
    params(("id" = String, Path, description = "Run id (UUID)", format = Uuid)),
    responses(
        (status = 200, body = MonitoringRun),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/monitoring/runs/{id}")]
pub async fn monitoring_run(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let not_found = || ApiError::NotFound(format!("no monitoring run {id} on this instance"));
    let id: uuid::Uuid = id.parse().map_err(|_| not_found())?;
    let run = state.monitor.run(id).ok_or_else(not_found)?;
    Ok(HttpResponse::Ok().json(run))
}

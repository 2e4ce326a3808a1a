//! `/v1/webhooks`: subscriptions to the event feed, their secrets and deliveries.

use super::AppState;
use super::errors::{ApiError, Problem};
use super::query::Query;
use crate::auth::Principal;
use crate::webhooks::{
    AttemptRecord, Delivery, NewSubscription, Signing, Subscription, SubscriptionPatch,
    SubscriptionState, WebhookError,
};
use actix_web::{HttpResponse, delete, get, patch, post, web};
use serde::{Deserialize, Serialize};

impl From<WebhookError> for ApiError {
    fn from(e: WebhookError) -> ApiError {
        match e {
            WebhookError::NotFound => ApiError::NotFound("no such webhook or delivery".into()),
            WebhookError::Invalid { field, message } => ApiError::InvalidField { field, message },
            WebhookError::Store(e) => e.into(),
        }
    }
}

/// A new subscription.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"url": "https://crm.example.ru/kontragent/hook", "events": ["catalog.*"], "description": "amoCRM"}))]
pub struct CreateWebhook {
    /// Where to POST; http(s), and not a private, loopback or metadata address.
    #[schema(max_length = 2048)]
    pub url: String,
    /// Event types (`catalog.status_changed`), prefixes (`catalog.*`) or `*`.
    pub events: Vec<String>,
    #[schema(max_length = 500)]
    pub description: Option<String>,
    /// `hmac` (default): Standard Webhooks signatures; `token`: the secret as
    /// `Authorization: Bearer`, for receivers that cannot compute an HMAC (1C).
    #[serde(default)]
    pub signing: Signing,
}

/// What to change; absent fields stay.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"state": "paused"}))]
pub struct PatchWebhook {
    #[schema(max_length = 2048)]
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    #[schema(max_length = 500)]
    pub description: Option<String>,
    /// `paused` stops deliveries (they wait), `active` resumes (also after the service disabled it).
    pub state: Option<SubscriptionState>,
}

/// A subscription with its signing secret, shown only when created or rotated.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"webhook": {"id": "wh_0193a3c48f2e7c1a9b1e5d2f3a4b5c6d", "url": "https://crm.example.ru/kontragent/hook",
    "events": ["catalog.*"], "state": "active", "failure_streak": 0, "created_by": "crm-admin",
    "created_at": "2026-12-01T10:00:00Z", "updated_at": "2026-12-01T10:00:00Z"},
    "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}))]
pub struct WebhookWithSecret {
    pub webhook: Subscription,
    /// `whsec_…`: verify `webhook-signature` with it (Standard Webhooks). Not shown again.
    pub secret: String,
}

/// Every subscription.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"items": []}))]
pub struct WebhookList {
    pub items: Vec<Subscription>,
}

/// A delivery with its attempts.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"delivery": {"id": "0193…", "message_id": "evt_42", "event_type": "catalog.listed",
    "state": "succeeded", "attempts": 1, "next_attempt_at": "2026-12-01T10:00:00Z", "last_status": 200,
    "created_at": "2026-12-01T10:00:00Z", "finished_at": "2026-12-01T10:00:01Z"},
    "attempts": [{"attempt": 1, "at": "2026-12-01T10:00:01Z", "status": 200, "latency_ms": 35}]}))]
pub struct DeliveryView {
    pub delivery: Delivery,
    pub attempts: Vec<AttemptRecord>,
}

/// A page of deliveries, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"items": [], "next_cursor": null}))]
pub struct DeliveryPage {
    pub items: Vec<DeliveryView>,
    /// Pass as `before` for the next (older) page; absent when this page is not full.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DeliveriesQuery {
    /// Deliveries older than this cursor.
    pub before: Option<String>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// A feed event as delivered: `catalog.*`, `feedback.recorded`, `monitoring.*`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"type": "catalog.status_changed", "timestamp": "2026-12-01T10:00:00.000Z",
    "data": {"seq": 42, "inn": "7701000019", "kind": "status_changed",
             "payload": {"from": "active", "to": "suspended", "reason": "bankruptcy_opened"},
             "created_at": "2026-12-01T10:00:00.000Z"}}))]
pub struct EventMessage {
    #[serde(rename = "type")]
    pub event_type: String,
    pub timestamp: chrono::DateTime<chrono::Utc>,
    /// The event of `GET /v1/events`.
    pub data: crate::catalog::Event,
}

/// A check's callback (`check.completed`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"type": "check.completed", "timestamp": "2026-12-01T10:00:05.000Z",
    "data": crate::check::Check::example()}))]
pub struct CheckCompletedMessage {
    #[serde(rename = "type")]
    pub event_type: String,
    pub timestamp: chrono::DateTime<chrono::Utc>,
    pub data: crate::check::Check,
}

/// `POST /v1/webhooks/{id}/test`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"type": "webhook.test", "timestamp": "2026-12-01T10:00:00.000Z",
    "data": {"webhook_id": "wh_0193a3c48f2e7c1a9b1e5d2f3a4b5c6d", "message": "kontragent webhook test"}}))]
pub struct TestMessage {
    #[serde(rename = "type")]
    pub event_type: String,
    pub timestamp: chrono::DateTime<chrono::Utc>,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// The spec's `webhooks`: what a subscriber (or a callback URL) receives.
pub struct Payloads;

impl utoipa::Modify for Payloads {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
        use utoipa::openapi::request_body::RequestBodyBuilder;
        use utoipa::openapi::{ContentBuilder, PathsBuilder, Ref, Required, ResponseBuilder};
        let headers = "Headers: `webhook-id` (the same on every retry), `webhook-timestamp` \
            (unix seconds), `webhook-signature: v1,<base64 HMAC-SHA256(key, id.timestamp.body)>` \
            (key: the base64 after `whsec_`; two signatures for 24 h after a rotation), or \
            `Authorization: Bearer <secret>` for a `token` subscription. Answer 2xx within \
            `webhooks.timeout_ms`; anything else is retried, `410` disables the subscription.";
        let hook = |schema: &str, summary: &str| {
            PathItem::new(
                HttpMethod::Post,
                OperationBuilder::new()
                    .summary(Some(summary))
                    .description(Some(headers))
                    .tag("webhooks")
                    .request_body(Some(
                        RequestBodyBuilder::new()
                            .required(Some(Required::True))
                            .content(
                                "application/json",
                                ContentBuilder::new()
                                    .schema(Some(Ref::from_schema_name(schema)))
                                    .build(),
                            )
                            .build(),
                    ))
                    .response(
                        "2XX",
                        ResponseBuilder::new().description("Received").build(),
                    ),
            )
        };
        openapi.webhooks = Some(
            PathsBuilder::new()
                .path(
                    "event",
                    hook(
                        "EventMessage",
                        "A feed event: catalog.*, feedback.recorded, monitoring.*",
                    ),
                )
                .path(
                    "check.completed",
                    hook("CheckCompletedMessage", "A check's callback"),
                )
                .path("webhook.test", hook("TestMessage", "A test message"))
                .build(),
        );
    }
}

fn views(items: Vec<(Delivery, Vec<AttemptRecord>)>) -> Vec<DeliveryView> {
    items
        .into_iter()
        .map(|(delivery, attempts)| DeliveryView { delivery, attempts })
        .collect()
}

/// Subscribes a URL to event types; the answer holds the signing secret, once.
#[utoipa::path(tag = "webhooks", request_body = CreateWebhook, responses(
    (status = 201, body = WebhookWithSecret),
    (status = 422, description = "`invalid_field`: a URL the guard refuses, an unknown event type", body = Problem, content_type = "application/problem+json"),
))]
#[post("/webhooks")]
pub async fn create_webhook(
    state: web::Data<AppState>,
    principal: web::ReqData<Principal>,
    body: super::json::Json<CreateWebhook>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let (webhook, secret) = state
        .webhooks
        .create(
            NewSubscription {
                url: body.url,
                events: body.events,
                description: body.description,
                signing: body.signing,
            },
            &principal.actor(None),
        )
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("location", format!("/v1/webhooks/{}", webhook.id)))
        .json(WebhookWithSecret { webhook, secret }))
}

/// Every subscription.
#[utoipa::path(tag = "webhooks", responses((status = 200, body = WebhookList)))]
#[get("/webhooks")]
pub async fn list_webhooks(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let items = state.webhooks.list().await?;
    Ok(HttpResponse::Ok().json(WebhookList { items }))
}

/// One subscription.
#[utoipa::path(tag = "webhooks", params(("id" = String, Path)), responses(
    (status = 200, body = Subscription),
    (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
))]
#[get("/webhooks/{id}")]
pub async fn get_webhook(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.webhooks.get(&id).await?))
}

/// Pauses, resumes, or changes the URL, events or description.
#[utoipa::path(tag = "webhooks", params(("id" = String, Path)), request_body = PatchWebhook, responses(
    (status = 200, body = Subscription),
    (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "`invalid_field`", body = Problem, content_type = "application/problem+json"),
))]
#[patch("/webhooks/{id}")]
pub async fn patch_webhook(
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: super::json::Json<PatchWebhook>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let patch = SubscriptionPatch {
        url: body.url,
        events: body.events,
        description: body.description,
        state: body.state,
    };
    Ok(HttpResponse::Ok().json(state.webhooks.update(&id, patch).await?))
}

/// Deletes a subscription and its deliveries.
#[utoipa::path(tag = "webhooks", params(("id" = String, Path)), responses(
    (status = 204, description = "Deleted"),
    (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
))]
#[delete("/webhooks/{id}")]
pub async fn delete_webhook(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.webhooks.delete(&id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A new signing secret; for 24 h the old one signs too (two signatures in the header).
#[utoipa::path(tag = "webhooks", params(("id" = String, Path)), responses(
    (status = 200, body = WebhookWithSecret),
    (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
))]
#[post("/webhooks/{id}/rotate-secret")]
pub async fn rotate_secret(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (webhook, secret) = state.webhooks.rotate_secret(&id).await?;
    Ok(HttpResponse::Ok().json(WebhookWithSecret { webhook, secret }))
}

/// Sends a `webhook.test` event through the normal delivery path.
#[utoipa::path(tag = "webhooks", params(("id" = String, Path)), responses(
    (status = 202, body = Delivery),
    (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
))]
#[post("/webhooks/{id}/test")]
pub async fn test_webhook(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Accepted().json(state.webhooks.send_test(&id).await?))
}

/// Deliveries to a subscription with every attempt (status code, latency, error).
#[utoipa::path(tag = "webhooks", params(("id" = String, Path), DeliveriesQuery), responses(
    (status = 200, body = DeliveryPage),
    (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
))]
#[get("/webhooks/{id}/deliveries")]
pub async fn deliveries(
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: Query<DeliveriesQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::query("limit", "from 1 to 200"));
    }
    let items = views(
        state
            .webhooks
            .deliveries(&id, q.before.as_deref(), limit)
            .await?,
    );
    let next_cursor = (items.len() as i64 == limit)
        .then(|| items.last().map(|v| v.delivery.id.clone()))
        .flatten();
    Ok(HttpResponse::Ok().json(DeliveryPage { items, next_cursor }))
}

/// Sends a finished (succeeded or failed) delivery again now.
#[utoipa::path(tag = "webhooks", params(("id" = String, Path), ("delivery_id" = String, Path)), responses(
    (status = 202, body = Delivery),
    (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "`invalid_field`: still pending", body = Problem, content_type = "application/problem+json"),
))]
#[post("/webhooks/{id}/deliveries/{delivery_id}/retry")]
pub async fn retry_delivery(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, delivery_id) = path.into_inner();
    Ok(HttpResponse::Accepted().json(state.webhooks.retry(&id, &delivery_id).await?))
}

/// The callback deliveries of a check, with their attempts.
#[utoipa::path(tag = "checks", params(("id" = String, Path, description = "Check id (UUID)", format = Uuid)), responses(
    (status = 200, body = DeliveryPage),
    (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
))]
#[get("/checks/{id}/callbacks")]
pub async fn check_callbacks(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: uuid::Uuid = id
        .parse()
        .map_err(|_| ApiError::NotFound(format!("no check with id {id}")))?;
    if state.checks.get(id).await?.is_none() {
        return Err(ApiError::NotFound(format!("no check with id {id}")));
    }
    let items = views(state.webhooks.callbacks_of(&id.to_string()).await?);
    Ok(HttpResponse::Ok().json(DeliveryPage {
        items,
        next_cursor: None,
    }))
}

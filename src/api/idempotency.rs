//! The `Idempotency-Key` middleware on the POST writes: runs inside the guard (it needs the
//! caller's key), claims the key, runs the handler once and records its response, or replays
//! that response to a retry (`Idempotency-Replayed: true`).

use super::AppState;
use super::errors::ApiError;
use super::guard::MatchedRoute;
use crate::auth::Principal;
use crate::idempotency::IdempotencyService;
use crate::storage::{IdempotencyClaim, StoredResponse};
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::web::{self, Bytes};
use actix_web::{HttpMessage, HttpResponse, ResponseError};

pub async fn idempotency(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let key = req
        .headers()
        .get("idempotency-key")
        .map(|v| v.to_str().unwrap_or_default().to_owned());
    let idempotent = req
        .extensions()
        .get::<MatchedRoute>()
        .is_some_and(|route| route.0.idempotent);
    let (Some(key), true) = (key, idempotent) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let refuse = |req: ServiceRequest, e: ApiError| Ok(req.into_response(e.error_response()));
    if !IdempotencyService::valid_key(&key) {
        let e = ApiError::InvalidField {
            field: "Idempotency-Key",
            message: "1 to 255 visible ASCII characters".into(),
        };
        return refuse(req, e);
    }
    let Some(service) = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.idempotency.clone())
    else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let principal = req
        .extensions()
        .get::<Principal>()
        .map(|p| {
            p.key
                .as_ref()
                .map_or_else(|| p.name.clone(), |k| k.id.clone())
        })
        .unwrap_or_else(|| "anonymous".to_owned());
    let body: Bytes = req.extract::<Bytes>().await?;
    req.set_payload(actix_web::dev::Payload::from(body.clone()));
    let claim = service
        .claim(&principal, &key, req.method().as_str(), req.path(), &body)
        .await
        .map_err(ApiError::internal)?;
    match claim {
        IdempotencyClaim::Mismatch => refuse(
            req,
            ApiError::Refused {
                status: 422,
                code: "idempotency_key_reused",
                message: "this Idempotency-Key was used with another request".into(),
            },
        ),
        IdempotencyClaim::Running => refuse(
            req,
            ApiError::Refused {
                status: 409,
                code: "idempotency_conflict",
                message: "the first request with this Idempotency-Key is still running".into(),
            },
        ),
        IdempotencyClaim::Done(stored) => {
            let mut response = HttpResponse::build(
                actix_web::http::StatusCode::from_u16(stored.status)
                    .unwrap_or(actix_web::http::StatusCode::OK),
            );
            response.insert_header(("idempotency-replayed", "true"));
            if let Some(ct) = &stored.content_type {
                response.insert_header((header::CONTENT_TYPE, ct.as_str()));
            }
            if let Some(location) = &stored.location {
                response.insert_header((header::LOCATION, location.as_str()));
            }
            Ok(req.into_response(response.body(stored.body)))
        }
        IdempotencyClaim::Started => {
            let response = next.call(req).await;
            let response = match response {
                Ok(r) => r,
                Err(e) => {
                    release(&service, &principal, &key).await;
                    return Err(e);
                }
            };
            let status = response.status();
            // A failure on our side, or a refusal to come back later, is no answer to keep:
            // the retry runs.
            if status.is_server_error() || status == actix_web::http::StatusCode::TOO_MANY_REQUESTS
            {
                release(&service, &principal, &key).await;
                return Ok(response.map_into_boxed_body());
            }
            let (http_req, res) = response.into_parts();
            let header_text = |name: header::HeaderName| {
                res.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let content_type = header_text(header::CONTENT_TYPE);
            let location = header_text(header::LOCATION);
            let (res, body) = res.into_parts();
            let bytes = actix_web::body::to_bytes(body)
                .await
                .map_err(|_| ApiError::Internal("the response body could not be read".into()))?;
            let stored = StoredResponse {
                status: status.as_u16(),
                content_type,
                location,
                body: String::from_utf8_lossy(&bytes).into_owned(),
            };
            if let Err(e) = service.finish(&principal, &key, &stored).await {
                tracing::error!(error = ?e, "cannot record an idempotent response");
                release(&service, &principal, &key).await;
            }
            Ok(ServiceResponse::new(
                http_req,
                res.set_body(BoxBody::new(bytes)),
            ))
        }
    }
}

async fn release(service: &IdempotencyService, principal: &str, key: &str) {
    if let Err(e) = service.release(principal, key).await {
        tracing::error!(error = ?e, "cannot release an Idempotency-Key");
    }
}

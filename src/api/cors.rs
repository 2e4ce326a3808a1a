//! CORS for the website's own pages (`cors.allowed_origins`): a preflight from an allowed
//! origin gets 204 with the methods and headers the API takes; every response to an
//! allowed origin names it in `Access-Control-Allow-Origin`. Other origins get no CORS
//! headers, so the browser keeps their pages out.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};

const ALLOW_METHODS: &str = "GET, POST, PATCH, DELETE, OPTIONS";
const ALLOW_HEADERS: &str =
    "Authorization, X-Api-Key, Content-Type, Idempotency-Key, Accept-Language";
const EXPOSE_HEADERS: &str = "Location, Retry-After, Idempotency-Replayed";

/// The origins whose pages may call the API (`cors.allowed_origins`).
pub struct AllowedOrigins(pub Vec<String>);

/// The request's `Origin` when it is one of the allowed ones.
fn allowed_origin(req: &ServiceRequest) -> Option<HeaderValue> {
    let origin = req.headers().get(header::ORIGIN)?;
    let allowed = req.app_data::<web::Data<AllowedOrigins>>()?;
    let text = origin.to_str().ok()?;
    allowed
        .0
        .iter()
        .any(|allowed| allowed.trim_end_matches('/').eq_ignore_ascii_case(text))
        .then(|| origin.clone())
}

pub async fn cors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let origin = allowed_origin(&req);
    let preflight = req.method() == actix_web::http::Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        let mut response = HttpResponse::NoContent();
        response.insert_header((header::VARY, "Origin"));
        if let Some(origin) = origin {
            response
                .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin))
                .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, ALLOW_METHODS))
                .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS))
                .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"));
        }
        return Ok(req.into_response(response.finish()));
    }
    let mut response = next.call(req).await?.map_into_boxed_body();
    if let Some(origin) = origin {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSE_HEADERS),
        );
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    Ok(response)
}

//! Logging setup: `tracing` with a pretty or JSON formatter and an env-overridable filter.

use crate::config::LogSettings;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once; `RUST_LOG` overrides `log.filter`.
pub fn init(settings: &LogSettings) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = if settings.format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    // A second init (tests) keeps the first subscriber.
    let _ = result;
}

/// A target with what opens things masked: a report link's `sig` and the token in an amoCRM
/// webhook's path, each of which is a permission by itself.
fn mask_capabilities(target: &str) -> String {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let path = match path.split_once("/amocrm/webhook/") {
        Some((head, _)) => format!("{head}/amocrm/webhook/***"),
        None => path.to_owned(),
    };
    if query.is_empty() {
        return path;
    }
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some(("sig", _)) => "sig=***".to_owned(),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{path}?{}", query.join("&"))
}

/// The request logger's span: method, masked path and status. A person's 12-digit INN in
/// the path is masked (personal data), and error texts are left out (the API logs its
/// own 5xx chains; a 4xx is the client's business and may quote the INN).
pub struct MaskedRootSpan;

impl tracing_actix_web::RootSpanBuilder for MaskedRootSpan {
    fn on_request_start(request: &actix_web::dev::ServiceRequest) -> tracing::Span {
        let target = mask_capabilities(&crate::domain::mask_inns(
            request.uri().path_and_query().map_or("", |p| p.as_str()),
        ));
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.target = %target,
            http.status_code = tracing::field::Empty,
        )
    }

    fn on_request_end<B: actix_web::body::MessageBody>(
        span: tracing::Span,
        outcome: &Result<actix_web::dev::ServiceResponse<B>, actix_web::Error>,
    ) {
        let status = match outcome {
            Ok(response) => response.status(),
            Err(error) => error.as_response_error().status_code(),
        };
        span.record("http.status_code", status.as_u16());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_are_masked_in_the_log() {
        assert_eq!(
            mask_capabilities("/v1/checks/abc/report?lang=en&sig=0123abcd"),
            "/v1/checks/abc/report?lang=en&sig=***"
        );
        assert_eq!(
            mask_capabilities("/v1/integrations/amocrm/webhook/s3cret?x=1"),
            "/v1/integrations/amocrm/webhook/***?x=1"
        );
        assert_eq!(mask_capabilities("/v1/checks"), "/v1/checks");
    }
}

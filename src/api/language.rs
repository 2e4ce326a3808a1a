//! The language a request reads reasons in.

use super::AppState;
use crate::domain::Language;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use std::future::{Ready, ready};

/// The request's `Accept-Language` when it names a language the service speaks, else
/// `check.default_language`. Never refuses a request: an odd header is the default.
#[derive(Debug, Clone, Copy)]
pub struct Reader(pub Language);

impl FromRequest for Reader {
    type Error = actix_web::Error;
    type Future = Ready<Result<Reader, actix_web::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Reader(of_request(
            req.headers(),
            req.app_data::<web::Data<AppState>>(),
        ))))
    }
}

fn of_request(
    headers: &actix_web::http::header::HeaderMap,
    state: Option<&web::Data<AppState>>,
) -> Language {
    let default = state.map_or_else(Language::default, |s| s.checks.language());
    headers
        .get(actix_web::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(Language::from_accept)
        .unwrap_or(default)
}

tokio::task_local! {
    /// The language of the request being answered, for the answers built far from its
    /// handler (an error's problem document).
    static ANSWERING_IN: Language;
}

/// The language of the request being answered (Russian outside a request).
pub fn answering_in() -> Language {
    ANSWERING_IN.try_with(|l| *l).unwrap_or(Language::Ru)
}

/// Answers each request inside its language (see [`answering_in`]): outermost, so the
/// guard's, the router's and the extractors' errors read in it too.
pub async fn in_request_language(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let language = of_request(req.headers(), req.app_data::<web::Data<AppState>>());
    ANSWERING_IN.scope(language, next.call(req)).await
}

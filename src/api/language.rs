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
        let default = req
            .app_data::<web::Data<AppState>>()
            .map_or_else(Language::default, |s| s.checks.language());
        let wanted = req
            .headers()
            .get(actix_web::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .and_then(Language::from_accept);
        ready(Ok(Reader(wanted.unwrap_or(default))))
    }
}

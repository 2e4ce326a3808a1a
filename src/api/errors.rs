//! `ApiError`: the one error type of the HTTP boundary, rendered as
//! `application/problem+json` (RFC 9457) with a stable machine `code`.
//! 5xx bodies say nothing internal; the log has the whole chain.

use crate::check::CheckError;
use crate::domain::{InnError, Language};
use crate::storage::StoreError;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

/// The problem document every error response carries.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({
    "type": "urn:kontragent:problem:inn_checksum",
    "title": "Invalid INN",
    "status": 422,
    "detail": "the INN check digits do not match",
    "code": "inn_checksum"
}))]
pub struct Problem {
    /// `urn:kontragent:problem:<code>`.
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The request field at fault, when one is (`invalid_field`, `invalid_query`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "max_age_s")]
    pub field: Option<String>,
    /// Problems in a ruleset (`invalid_ruleset`, `ruleset_too_costly`): rule id, line, message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<crate::rules::RuleError>>,
    /// Stable machine code: `inn_required`, `inn_digits`, `inn_length`, `inn_checksum`,
    /// `malformed_json`, `malformed_body`, `unknown_field`, `body_too_large`, `unsupported_media_type`, `invalid_ruleset`,
    /// `ruleset_too_costly`,
    /// `invalid_field`, `unknown_profile`, `not_checked`, `not_approved`, `decision_too_old`,
    /// `already_listed`, `invalid_transition`, `conflict`, `not_found`, `method_not_allowed`,
    /// `unauthorized`, `forbidden`, `rate_limited`, `service_busy`, `invalid_query`,
    /// `not_ready`, `internal`.
    pub code: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Inn(InnError),
    #[error("the body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("{0}")]
    UnknownField(String),
    #[error("the body cannot be read (for a text body: UTF-8)")]
    MalformedBody,
    /// A body field of the wrong type or range (`malformed_json`), or one the route does
    /// not know (`unknown_field`), named by its path (`items[2].inn`).
    #[error("`{field}`: {message}")]
    BodyField {
        code: &'static str,
        field: String,
        message: String,
    },
    #[error("the body is larger than {0} bytes")]
    BodyTooLarge(usize),
    #[error("send the body as application/json")]
    UnsupportedMediaType,
    #[error("`{field}`: {message}")]
    InvalidField {
        field: &'static str,
        message: String,
    },
    /// A field with a code of its own (`phone_invalid`, `email_invalid`) the form shows
    /// next to it.
    #[error("`{field}`: {message}")]
    FieldRefused {
        field: &'static str,
        code: &'static str,
        message: String,
    },
    #[error("unknown scoring profile `{0}`")]
    UnknownProfile(String),
    #[error("the ruleset has {} problem(s); see `errors`", .0.len())]
    InvalidRuleset(Vec<crate::rules::RuleError>),
    #[error("the ruleset is over the size or cost bounds; see `errors`")]
    RulesetTooCostly(Vec<crate::rules::RuleError>),
    #[error("{0}")]
    NotFound(String),
    #[error("this resource does not accept that method")]
    MethodNotAllowed,
    #[error("a valid API key is required")]
    Unauthorized,
    #[error("this API key lacks the scope `{0}`")]
    Forbidden(&'static str),
    #[error("too many requests; retry after {retry_after_s} s")]
    RateLimited { retry_after_s: u64 },
    #[error("too many checks are running; retry after {retry_after_s} s")]
    Busy { retry_after_s: u64 },
    #[error("{message}")]
    InvalidQuery {
        field: Option<String>,
        message: String,
    },
    #[error("the service is not ready: {0}")]
    NotReady(String),
    /// A request the current state refuses (409) or a rule of the domain refuses (422).
    #[error("{message}")]
    Refused {
        status: u16,
        code: &'static str,
        message: String,
    },
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Inn(e) => e.code(),
            ApiError::MalformedJson(_) => "malformed_json",
            ApiError::BodyField { code, .. } => code,
            ApiError::MalformedBody => "malformed_body",
            ApiError::UnknownField(_) => "unknown_field",
            ApiError::BodyTooLarge(_) => "body_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::InvalidField { .. } => "invalid_field",
            ApiError::FieldRefused { code, .. } => code,
            ApiError::UnknownProfile(_) => "unknown_profile",
            ApiError::InvalidRuleset(_) => "invalid_ruleset",
            ApiError::RulesetTooCostly(_) => "ruleset_too_costly",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Busy { .. } => "service_busy",
            ApiError::InvalidQuery { .. } => "invalid_query",
            ApiError::NotReady(_) => "not_ready",
            ApiError::Refused { code, .. } => code,
            ApiError::Internal(_) => "internal",
        }
    }

    /// The title in `language`, from the texts' catalogue by the kind of problem.
    fn title(&self, language: Language) -> &'static str {
        let kind = match self {
            ApiError::Inn(_) => "inn",
            ApiError::MalformedJson(_)
            | ApiError::UnknownField(_)
            | ApiError::MalformedBody
            | ApiError::BodyField { .. } => "body",
            ApiError::InvalidField { .. }
            | ApiError::FieldRefused { .. }
            | ApiError::UnknownProfile(_) => "invalid_field",
            ApiError::Refused { status: 409, .. } => "conflict",
            ApiError::Refused { .. } => "refused",
            other => other.code(),
        };
        crate::texts::problem_title(kind, language).unwrap_or("Error")
    }

    /// The detail in `language`: a field's message is looked up alone, after its name.
    fn detail(&self, language: Language) -> String {
        use crate::texts::in_language;
        match self {
            ApiError::InvalidField { field, message }
            | ApiError::FieldRefused { field, message, .. } => {
                format!("`{field}`: {}", in_language(message, language))
            }
            ApiError::BodyField { field, message, .. } => {
                format!("`{field}`: {}", in_language(message, language))
            }
            ApiError::InvalidQuery {
                field: Some(field),
                message,
            } => match message.strip_prefix(&format!("`{field}`: ")) {
                Some(rest) => format!("`{field}`: {}", in_language(rest, language)),
                None => in_language(message, language),
            },
            other => in_language(&other.to_string(), language),
        }
    }

    /// A query parameter with a value the route cannot use.
    pub fn query(field: &str, message: &str) -> ApiError {
        ApiError::InvalidQuery {
            field: Some(field.to_owned()),
            message: format!("`{field}`: {message}"),
        }
    }

    pub fn internal(e: impl std::error::Error + Send + Sync + 'static) -> ApiError {
        ApiError::Internal(Box::new(e))
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Inn(_)
            | ApiError::InvalidField { .. }
            | ApiError::FieldRefused { .. }
            | ApiError::UnknownProfile(_)
            | ApiError::InvalidRuleset(_)
            | ApiError::RulesetTooCostly(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::MalformedJson(_)
            | ApiError::UnknownField(_)
            | ApiError::MalformedBody
            | ApiError::BodyField { .. } => StatusCode::BAD_REQUEST,
            ApiError::BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::InvalidQuery { .. } => StatusCode::BAD_REQUEST,
            ApiError::NotReady(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Refused { status, .. } => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY)
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if let ApiError::Internal(source) = self {
            let mut chain = source.to_string();
            let mut cause = source.source();
            while let Some(c) = cause {
                chain.push_str(": ");
                chain.push_str(&c.to_string());
                cause = c.source();
            }
            tracing::error!(error = %chain, "internal error");
        }
        let language = super::language::answering_in();
        let problem = Problem {
            type_: format!("urn:kontragent:problem:{}", self.code()),
            title: self.title(language).to_owned(),
            status: status.as_u16(),
            detail: self.detail(language),
            code: self.code().to_owned(),
            field: match self {
                ApiError::InvalidField { field, .. } | ApiError::FieldRefused { field, .. } => {
                    Some((*field).to_owned())
                }
                ApiError::InvalidQuery { field, .. } => field.clone(),
                ApiError::BodyField { field, .. } => Some(field.clone()),
                // The body's, the path's and the query's INN are all named `inn`.
                ApiError::Inn(_) => Some("inn".to_owned()),
                _ => None,
            },
            errors: match self {
                ApiError::InvalidRuleset(errors) | ApiError::RulesetTooCostly(errors) => {
                    Some(errors.clone())
                }
                _ => None,
            },
        };
        let mut builder = HttpResponse::build(status);
        if status == StatusCode::UNAUTHORIZED {
            builder.insert_header(("WWW-Authenticate", "Bearer"));
        }
        if let ApiError::RateLimited { retry_after_s } | ApiError::Busy { retry_after_s } = self {
            builder.insert_header(("Retry-After", retry_after_s.to_string()));
        }
        builder
            .content_type("application/problem+json")
            .json(problem)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::internal(e)
    }
}

impl From<crate::catalog::CatalogError> for ApiError {
    fn from(e: crate::catalog::CatalogError) -> Self {
        use crate::catalog::CatalogError as C;
        let refused = |status, code, e: &C| ApiError::Refused {
            status,
            code,
            message: e.to_string(),
        };
        match e {
            C::NeverChecked(_) => refused(422, "not_checked", &e),
            C::NotApproved { .. } => refused(422, "not_approved", &e),
            C::DecisionTooOld { .. } => refused(422, "decision_too_old", &e),
            C::AlreadyListed(_) => refused(409, "already_listed", &e),
            C::InvalidTransition { .. } => refused(409, "invalid_transition", &e),
            C::Conflict => refused(409, "conflict", &e),
            C::NotListed(_) => ApiError::NotFound(e.to_string()),
            C::Invalid { field, message } => ApiError::InvalidField { field, message },
            C::Store(s) => ApiError::internal(s),
        }
    }
}

impl From<CheckError> for ApiError {
    fn from(e: CheckError) -> Self {
        match e {
            CheckError::UnknownProfile(p) => ApiError::UnknownProfile(p),
            CheckError::Store(s) => ApiError::internal(s),
            CheckError::Busy => ApiError::Busy { retry_after_s: 1 },
            e @ CheckError::Panicked => ApiError::internal(e),
        }
    }
}

impl From<crate::monitoring::MonitorError> for ApiError {
    fn from(e: crate::monitoring::MonitorError) -> Self {
        use crate::monitoring::MonitorError as M;
        match e {
            M::Catalog(c) => c.into(),
            M::Check(c) => c.into(),
            M::Store(s) => ApiError::internal(s),
        }
    }
}

/// Maps the JSON extractor's failures to codes.
pub fn json_error(
    err: actix_web::error::JsonPayloadError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as J;
    let api = match err {
        J::Overflow { limit } | J::OverflowKnownLength { limit, .. } => {
            ApiError::BodyTooLarge(limit)
        }
        J::ContentType => ApiError::UnsupportedMediaType,
        J::Deserialize(e) => {
            let message = e.to_string();
            if message.starts_with("unknown field") {
                ApiError::UnknownField(message)
            } else {
                ApiError::MalformedJson(message)
            }
        }
        other => ApiError::MalformedJson(other.to_string()),
    };
    api.into()
}

/// Maps the path extractor's failures to `invalid_query` (a path segment of the wrong shape).
pub fn path_error(
    err: actix_web::error::PathError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    ApiError::InvalidQuery {
        field: None,
        message: err.to_string(),
    }
    .into()
}

impl From<crate::check::budget::OverBudget> for ApiError {
    fn from(e: crate::check::budget::OverBudget) -> ApiError {
        ApiError::RateLimited {
            retry_after_s: e.retry_after_s,
        }
    }
}

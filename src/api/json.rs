//! `Json<T>`: the JSON body extractor of this API. Unlike actix's it names the field at
//! fault — a value of the wrong type or range (`"max_age_s": -1`) is `malformed_json`, a
//! field the route does not know `unknown_field`, each with its path in `field` — so a form
//! can show the message beside the input. The size limit, the content type and a body
//! that is not JSON at all are actix's checks, answered by [`super::errors::json_error`].

use super::errors::ApiError;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use futures::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let value = web::Json::<serde_json::Value>::from_request(req, payload);
        Box::pin(async move {
            let value = value.await?.into_inner();
            serde_path_to_error::deserialize(value)
                .map(Json)
                .map_err(|e| field_error(e).into())
        })
    }
}

/// The problem of a field, by its path (`.` is the body itself).
fn field_error(e: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = e.path().to_string();
    let message = e.inner().to_string();
    let unknown = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next())
        .map(str::to_owned);
    let parent = path
        .rsplit_once('.')
        .map(|(parent, _)| parent.to_owned())
        .filter(|p| !p.is_empty() && p != "?");
    match unknown {
        Some(name) => ApiError::BodyField {
            code: "unknown_field",
            field: parent.map_or(name.clone(), |p| format!("{p}.{name}")),
            message,
        },
        None if path == "." => ApiError::MalformedJson(message),
        None => ApiError::BodyField {
            code: "malformed_json",
            field: path,
            message,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        max_age_s: Option<u64>,
        items: Option<Vec<Item>>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        inn: String,
    }

    fn problem(body: serde_json::Value) -> (String, String) {
        match field_error(serde_path_to_error::deserialize::<_, Body>(body).unwrap_err()) {
            ApiError::BodyField { code, field, .. } => (code.to_owned(), field),
            other => (other.code().to_owned(), String::new()),
        }
    }

    #[test]
    fn the_field_at_fault_is_named_by_its_path() {
        assert_eq!(
            problem(serde_json::json!({"max_age_s": -1})),
            ("malformed_json".into(), "max_age_s".into())
        );
        assert_eq!(
            problem(serde_json::json!({"items": [{"inn": "1"}, {"inn": 7}]})),
            ("malformed_json".into(), "items[1].inn".into())
        );
        assert_eq!(
            problem(serde_json::json!({"maxage": 1})),
            ("unknown_field".into(), "maxage".into())
        );
        assert_eq!(
            problem(serde_json::json!({"items": [{"inn": "1", "kpp": "2"}]})),
            ("unknown_field".into(), "items[0].kpp".into())
        );
        assert_eq!(problem(serde_json::json!([1])).0, "malformed_json");
    }
}

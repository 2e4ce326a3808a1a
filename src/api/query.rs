//! `Query<T>`: the query-string extractor of this API. Unlike actix's it names the
//! parameter at fault (`?limit=abc` → `invalid_query` with `field: "limit"`). Parameters
//! a route does not know are ignored (cache-busters, UTM tags).

use super::errors::ApiError;
use actix_web::{FromRequest, HttpRequest, dev::Payload};
use serde::de::DeserializeOwned;
use std::future::{Ready, ready};

pub struct Query<T>(pub T);

impl<T> Query<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let pairs = form_urlencoded::parse(req.query_string().as_bytes());
        let parsed = serde_path_to_error::deserialize(serde_urlencoded::Deserializer::new(pairs));
        ready(parsed.map(Query).map_err(|e| {
            let path = e.path().to_string();
            ApiError::InvalidQuery {
                field: (path != ".").then_some(path),
                message: e.inner().to_string(),
            }
        }))
    }
}

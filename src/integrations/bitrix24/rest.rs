//! Calls to a portal's REST API (integrations.md §1.2): every call goes through the SSRF
//! guard and a per-portal leaky bucket (`rps`, `burst`); `QUERY_LIMIT_EXCEEDED` (503) and
//! `OPERATION_TIME_LIMIT` (429) are retried with growing pauses; an `expired_token` is
//! refreshed once (`grant_type=refresh_token`) and the call repeated.

use super::Portal;
use crate::config::Bitrix24Settings;
use crate::outbound::{Outbound, Reply};
use crate::storage::{Store, StoreError};
use chrono::{DateTime, Utc};
use governor::{DefaultKeyedRateLimiter, RateLimiter};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// Pauses before the retries of a call the portal refused for its limits.
const LIMIT_BACKOFF: [Duration; 4] = [
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
];
/// A token this close to its end is refreshed before the call.
const REFRESH_AHEAD: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

#[derive(Debug, thiserror::Error)]
pub enum RestError {
    #[error("the portal could not be reached: {0}")]
    Unreachable(String),
    #[error("the portal answered HTTP {status}: {code} {description}")]
    Api {
        status: u16,
        code: String,
        description: String,
    },
    #[error("the portal {0} is not installed")]
    NoPortal(String),
    #[error("storage failed")]
    Store(#[from] StoreError),
}

impl RestError {
    /// The portal's error code (`ERROR_ACTIVITY_ALREADY_INSTALLED`), when it gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            RestError::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

pub struct Rest {
    outbound: Arc<Outbound>,
    store: Arc<dyn Store>,
    settings: Bitrix24Settings,
    limiter: DefaultKeyedRateLimiter<String>,
    /// One refresh at a time: a refresh token works once.
    refreshing: tokio::sync::Mutex<()>,
}

impl Rest {
    pub fn new(
        outbound: Arc<Outbound>,
        store: Arc<dyn Store>,
        settings: &Bitrix24Settings,
    ) -> Rest {
        Rest {
            outbound,
            store,
            limiter: RateLimiter::keyed(super::super::quota(settings.rps, 2.0, settings.burst)),
            settings: settings.clone(),
            refreshing: tokio::sync::Mutex::new(()),
        }
    }

    /// Calls `method` on the installed portal `member_id`; returns the answer's `result`.
    pub async fn call(
        &self,
        member_id: &str,
        method: &str,
        params: Value,
    ) -> Result<Value, RestError> {
        let mut portal = self
            .store
            .portal(member_id)
            .await?
            .ok_or_else(|| RestError::NoPortal(member_id.to_owned()))?;
        if portal.expires_at - Utc::now() < REFRESH_AHEAD {
            portal = self.refresh(&portal).await?;
        }
        let mut refreshed = false;
        let mut backoff = LIMIT_BACKOFF.iter();
        loop {
            match self.call_as(&portal, method, &params).await {
                Err(RestError::Api { code, .. }) if code == "expired_token" && !refreshed => {
                    portal = self.refresh(&portal).await?;
                    refreshed = true;
                }
                Err(RestError::Api { status, code, .. })
                    if is_over_limit(status, &code) && backoff.len() > 0 =>
                {
                    let pause = backoff.next().copied().unwrap_or_default();
                    tracing::warn!(portal = %portal.domain, method, code, "the portal's limit: retrying");
                    tokio::time::sleep(pause).await;
                }
                other => return other,
            }
        }
    }

    /// Several calls in one request (`batch`, at most 50): each is `(name, method, params)`,
    /// and a later call may use an earlier one's result (`$result[name][FIELD]`). The portal
    /// runs them in the order of their names (the command map is sorted), so a call read by
    /// another must sort before it. Returns the calls that failed, by name, with the
    /// portal's error.
    pub async fn batch(
        &self,
        member_id: &str,
        calls: &[(&str, &str, Value)],
    ) -> Result<Vec<(String, String)>, RestError> {
        let cmd: serde_json::Map<String, Value> = calls
            .iter()
            .take(50)
            .map(|(name, method, params)| {
                (
                    (*name).to_owned(),
                    json!(format!("{method}?{}", php_query(params))),
                )
            })
            .collect();
        let result = self
            .call(member_id, "batch", json!({"halt": 0, "cmd": cmd}))
            .await?;
        let failed = match &result["result_error"] {
            Value::Object(errors) => errors
                .iter()
                .map(|(name, e)| {
                    let text = e["error_description"].as_str().or(e["error"].as_str());
                    (name.clone(), text.unwrap_or("error").to_owned())
                })
                .collect(),
            _ => Vec::new(),
        };
        Ok(failed)
    }

    /// One call with `portal`'s current token, through the portal's bucket; no retries.
    pub async fn call_as(
        &self,
        portal: &Portal,
        method: &str,
        params: &Value,
    ) -> Result<Value, RestError> {
        self.limiter.until_key_ready(&portal.member_id).await;
        let mut body = params.clone();
        if let Some(object) = body.as_object_mut() {
            object.insert("auth".into(), json!(portal.access_token));
        }
        let url = format!("{}{method}.json", portal.client_endpoint);
        let reply = self
            .outbound
            .exchange(
                reqwest::Method::POST,
                &url,
                &[],
                Some(&body),
                self.timeout(),
            )
            .await
            .map_err(RestError::Unreachable)?;
        result_of(reply)
    }

    /// New tokens for `portal` from the OAuth server, stored before they are used.
    async fn refresh(&self, portal: &Portal) -> Result<Portal, RestError> {
        let _one = self.refreshing.lock().await;
        // Another call may have refreshed while this one waited.
        if let Some(current) = self.store.portal(&portal.member_id).await?
            && current.access_token != portal.access_token
        {
            return Ok(current);
        }
        let fresh = self.exchange_refresh_token(portal).await?;
        self.store
            .update_portal_tokens(
                &portal.member_id,
                &fresh.access_token,
                &fresh.refresh_token,
                fresh.expires_at,
            )
            .await?;
        tracing::info!(portal = %portal.domain, "Bitrix24 tokens refreshed");
        Ok(fresh)
    }

    /// `grant_type=refresh_token` at `integrations.bitrix24.oauth_url`: `portal` with the new
    /// tokens, once the server has said they are this portal's (its `member_id`),
    /// not yet stored. It also proves an install: the OAuth server exchanges only a refresh
    /// token issued to our application (`client_id`, `client_secret`) for that portal.
    pub async fn exchange_refresh_token(&self, portal: &Portal) -> Result<Portal, RestError> {
        let mut url = url::Url::parse(&self.settings.oauth_url)
            .map_err(|e| RestError::Unreachable(format!("integrations.bitrix24.oauth_url: {e}")))?;
        url.query_pairs_mut()
            .append_pair("grant_type", "refresh_token")
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("client_secret", self.settings.client_secret.expose())
            .append_pair("refresh_token", &portal.refresh_token);
        let reply = self
            .outbound
            .exchange(
                reqwest::Method::GET,
                url.as_str(),
                &[],
                None,
                self.timeout(),
            )
            .await
            .map_err(RestError::Unreachable)?;
        let (Some(access), Some(refresh)) = (
            reply.body["access_token"].as_str(),
            reply.body["refresh_token"].as_str(),
        ) else {
            return Err(api_error(&reply));
        };
        if reply.body["member_id"].as_str() != Some(portal.member_id.as_str()) {
            return Err(RestError::Api {
                status: reply.status,
                code: "member_id_mismatch".into(),
                description: "the OAuth server issued these tokens to another portal".into(),
            });
        }
        Ok(Portal {
            access_token: access.to_owned(),
            refresh_token: refresh.to_owned(),
            expires_at: expiry(&reply.body, Utc::now()),
            ..portal.clone()
        })
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(self.settings.timeout_ms.max(1))
    }
}

/// `params` as PHP's `http_build_query` writes them (`fields[NAME]=…&list[0]=…`): how a
/// `batch` command carries its parameters. Nulls are left out.
pub fn php_query(params: &Value) -> String {
    fn put(key: &str, value: &Value, out: &mut form_urlencoded::Serializer<'_, String>) {
        match value {
            Value::Null => {}
            Value::Object(map) => {
                for (k, v) in map {
                    put(&format!("{key}[{k}]"), v, out);
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    put(&format!("{key}[{i}]"), v, out);
                }
            }
            Value::String(s) => {
                out.append_pair(key, s);
            }
            Value::Bool(b) => {
                out.append_pair(key, if *b { "Y" } else { "N" });
            }
            Value::Number(n) => {
                out.append_pair(key, &n.to_string());
            }
        }
    }
    let mut out = form_urlencoded::Serializer::new(String::new());
    if let Value::Object(map) = params {
        for (k, v) in map {
            put(k, v, &mut out);
        }
    }
    out.finish()
}

/// 503 `QUERY_LIMIT_EXCEEDED` and 429 `OPERATION_TIME_LIMIT`: wait and try again.
fn is_over_limit(status: u16, code: &str) -> bool {
    status == 503
        || status == 429
        || code == "QUERY_LIMIT_EXCEEDED"
        || code == "OPERATION_TIME_LIMIT"
}

/// The `result` of a successful answer, or the portal's error.
fn result_of(reply: Reply) -> Result<Value, RestError> {
    if (200..300).contains(&reply.status) && reply.body.get("error").is_none() {
        return Ok(reply.body.get("result").cloned().unwrap_or(Value::Null));
    }
    Err(api_error(&reply))
}

fn api_error(reply: &Reply) -> RestError {
    RestError::Api {
        status: reply.status,
        code: reply.body["error"].as_str().unwrap_or("").to_owned(),
        description: reply.body["error_description"]
            .as_str()
            .unwrap_or("")
            .chars()
            .take(300)
            .collect(),
    }
}

/// When tokens given at `now` end: `expires_in` seconds, else the `expires` timestamp,
/// else an hour (what Bitrix24 gives).
pub fn expiry(tokens: &Value, now: DateTime<Utc>) -> DateTime<Utc> {
    let seconds = |v: &Value| {
        v.as_i64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
    };
    if let Some(s) = seconds(&tokens["expires_in"]).filter(|s| *s > 0) {
        return now + chrono::TimeDelta::seconds(s.min(86_400 * 365));
    }
    if let Some(at) = seconds(&tokens["expires"]).and_then(|t| DateTime::from_timestamp(t, 0)) {
        return at;
    }
    now + chrono::TimeDelta::hours(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_parameters_are_written_as_php_does() {
        let query = php_query(
            &json!({"id": 3051, "fields": {"UF_X": "a b", "LIST": [1, 2]},
                                      "flag": true, "skip": null}),
        );
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        assert_eq!(
            pairs,
            [
                ("fields[LIST][0]".into(), "1".into()),
                ("fields[LIST][1]".into(), "2".into()),
                ("fields[UF_X]".into(), "a b".into()),
                ("flag".into(), "Y".into()),
                ("id".into(), "3051".into()),
            ]
        );
    }

    #[test]
    fn limits_are_told_apart_from_other_errors() {
        assert!(is_over_limit(503, "QUERY_LIMIT_EXCEEDED"));
        assert!(is_over_limit(429, "OPERATION_TIME_LIMIT"));
        assert!(!is_over_limit(401, "expired_token"));
        assert!(!is_over_limit(400, "ERROR_ACTIVITY_ALREADY_INSTALLED"));
    }

    #[test]
    fn an_error_body_is_an_error_even_with_200() {
        let ok = result_of(Reply {
            status: 200,
            body: json!({"result": {"ID": 5}}),
        })
        .unwrap();
        assert_eq!(ok, json!({"ID": 5}));
        let err = result_of(Reply {
            status: 200,
            body: json!({"error": "ACCESS_DENIED", "error_description": "no"}),
        })
        .unwrap_err();
        assert_eq!(err.code(), Some("ACCESS_DENIED"));
        let garbage = result_of(Reply {
            status: 502,
            body: Value::Null,
        })
        .unwrap_err();
        assert!(matches!(garbage, RestError::Api { status: 502, .. }));
    }

    #[test]
    fn token_lifetimes_come_from_expires_in_or_expires() {
        let now = DateTime::from_timestamp(1_767_000_000, 0).unwrap();
        assert_eq!(
            expiry(&json!({"expires_in": 3600}), now),
            now + chrono::TimeDelta::hours(1)
        );
        assert_eq!(
            expiry(&json!({"expires_in": "1800"}), now),
            now + chrono::TimeDelta::minutes(30)
        );
        assert_eq!(
            expiry(&json!({"expires": 1_767_003_600}), now),
            DateTime::from_timestamp(1_767_003_600, 0).unwrap()
        );
        assert_eq!(expiry(&json!({}), now), now + chrono::TimeDelta::hours(1));
    }
}

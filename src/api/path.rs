//! One spelling of every path, before the guard and the router see it: percent-encoded
//! unreserved characters decoded (`/%761/audit` is `/v1/audit`), `//` collapsed, `.` and
//! `..` segments resolved. Without it the guard and the router could read one request as
//! two different paths. `HEAD` is served as `GET` (the server sends no body for it).

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, Uri};
use actix_web::middleware::Next;
use std::borrow::Cow;

/// The normal form of a request path (RFC 3986 §6.2.2: unreserved characters decoded,
/// dot-segments removed), with empty segments dropped. `%2F` and every other reserved or
/// non-ASCII escape stay encoded, so a segment never gains a `/`.
pub fn normal(path: &str) -> Cow<'_, str> {
    let needs = path.contains('%') || path.contains("//") || path.contains("/.");
    if !needs {
        return Cow::Borrowed(path);
    }
    let decoded = decode_unreserved(path);
    let mut segments: Vec<&str> = Vec::new();
    let trailing = decoded.ends_with('/') || decoded.ends_with("/.") || decoded.ends_with("/..");
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(decoded.len());
    for s in &segments {
        out.push('/');
        out.push_str(s);
    }
    if trailing || out.is_empty() {
        out.push('/');
    }
    Cow::Owned(out)
}

fn decode_unreserved(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(byte) = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            && (byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~'))
        {
            out.push(byte as char);
            i += 3;
            continue;
        }
        // The path is ASCII (a `Uri` holds no other bytes), so byte and char agree.
        out.push(bytes[i] as char);
        i += 1;
    }
    out
}

/// The middleware: rewrites the request's URI to its normal path (the query kept) before
/// anything else reads it.
pub async fn normalize(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if req.method() == Method::HEAD {
        req.head_mut().method = Method::GET;
    }
    let uri = req.uri();
    if let Cow::Owned(path) = normal(uri.path()) {
        let path_and_query = match uri.query() {
            Some(q) => format!("{path}?{q}"),
            None => path,
        };
        let mut parts = uri.clone().into_parts();
        if let Ok(pq) = path_and_query.parse() {
            parts.path_and_query = Some(pq);
            if let Ok(uri) = Uri::from_parts(parts) {
                req.match_info_mut().get_mut().update(&uri);
                req.head_mut().uri = uri;
            }
        }
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_boxed_body)
}

#[cfg(test)]
mod tests {
    use super::normal;

    #[test]
    fn one_spelling_per_path() {
        for (raw, want) in [
            ("/v1/audit", "/v1/audit"),
            ("/%761/audit", "/v1/audit"),
            ("/%76%31/%61udit", "/v1/audit"),
            ("/v%31/catalog", "/v1/catalog"),
            ("/%6detrics", "/metrics"),
            ("//v1//audit", "/v1/audit"),
            ("/v1/./audit", "/v1/audit"),
            ("/v1/x/../audit", "/v1/audit"),
            ("/v1/%2e/audit", "/v1/audit"),
            ("/v1/%2E%2E/v1/audit", "/v1/audit"),
            ("/../../v1/audit", "/v1/audit"),
            ("/v1/checks/", "/v1/checks/"),
            ("/v1/checks/.", "/v1/checks/"),
            ("/", "/"),
            ("/..", "/"),
            // Reserved and non-ASCII escapes stay: a segment never gains a `/`.
            ("/v1/catalog/a%2Fb", "/v1/catalog/a%2Fb"),
            ("/v1/catalog/%D0%90", "/v1/catalog/%D0%90"),
            ("/v1/catalog/%zz%4", "/v1/catalog/%zz%4"),
            ("/v1/%25761", "/v1/%25761"),
        ] {
            assert_eq!(normal(raw), want, "{raw}");
        }
    }

    #[test]
    fn normal_is_a_fixed_point() {
        for raw in ["/%761/audit", "//a/./b/../c/", "/a%2Fb/%2e%2e/c"] {
            let once = normal(raw).into_owned();
            assert_eq!(normal(&once), once.as_str(), "{raw}");
        }
    }
}

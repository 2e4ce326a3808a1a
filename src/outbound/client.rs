//! The one HTTP client for URLs taken from input. A host name is resolved once, every
//! address it resolves to is vetted by the guard, and the connection goes to a vetted
//! address (no second resolution, which is how DNS rebinding gets past a check). No
//! redirect is followed and no proxy from the environment is used (a proxy would resolve
//! the name itself).

use super::guard::{AllowList, check_url, is_metadata_name};
use futures::future::BoxFuture;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Turns a host name into addresses. Injected so tests map their host names to
/// `127.0.0.x` and never ask a real DNS server.
pub trait NameResolver: Send + Sync {
    fn lookup(&self, host: String) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>>;
}

/// The operating system's resolver.
pub struct SystemResolver;

impl NameResolver for SystemResolver {
    fn lookup(&self, host: String) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>> {
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    }
}

/// Fixed names first (`webhooks.hosts`, like `/etc/hosts` for outbound calls), then
/// another resolver.
pub struct HostsResolver {
    hosts: BTreeMap<String, IpAddr>,
    fallback: Arc<dyn NameResolver>,
}

impl HostsResolver {
    pub fn new(hosts: BTreeMap<String, IpAddr>, fallback: Arc<dyn NameResolver>) -> Self {
        let hosts = hosts
            .into_iter()
            .map(|(name, ip)| (name.to_ascii_lowercase(), ip))
            .collect();
        HostsResolver { hosts, fallback }
    }
}

impl NameResolver for HostsResolver {
    fn lookup(&self, host: String) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>> {
        match self.hosts.get(&host.to_ascii_lowercase()) {
            Some(ip) => {
                let ip = *ip;
                Box::pin(async move { Ok(vec![ip]) })
            }
            None => self.fallback.lookup(host),
        }
    }
}

/// reqwest's resolver hook: resolve, then refuse the name when any address is forbidden.
struct Vetted {
    resolver: Arc<dyn NameResolver>,
    allow: AllowList,
}

impl reqwest::dns::Resolve for Vetted {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        let lookup = self.resolver.lookup(host.clone());
        let allow = self.allow.clone();
        Box::pin(async move {
            if is_metadata_name(&host) {
                return Err(format!("{host} is a cloud metadata service").into());
            }
            let ips = lookup.await?;
            if ips.is_empty() {
                return Err(format!("{host} resolves to no address").into());
            }
            for ip in &ips {
                allow
                    .vet(*ip)
                    .map_err(|reason| format!("{host} resolves to {reason}"))?;
            }
            let addrs: reqwest::dns::Addrs =
                Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// What one POST got.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// The HTTP status, when an answer came.
    pub status: Option<u16>,
    pub latency_ms: u64,
    /// Why it failed (refused by the guard, timeout, connection, a non-2xx answer).
    pub error: Option<String>,
}

impl Attempt {
    pub fn succeeded(&self) -> bool {
        self.error.is_none() && self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// The guarded client.
pub struct Outbound {
    http: reqwest::Client,
    allow: AllowList,
}

impl Outbound {
    pub fn new(allow: AllowList, resolver: Arc<dyn NameResolver>) -> Result<Outbound, String> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Vetted {
                resolver,
                allow: allow.clone(),
            })
            .user_agent(concat!(
                "kontragent/",
                env!("CARGO_PKG_VERSION"),
                " webhooks"
            ))
            .build()
            .map_err(|e| format!("cannot build the outbound client: {e}"))?;
        Ok(Outbound { http, allow })
    }

    /// Checks a URL given in a request (see [`check_url`]).
    pub fn check_url(&self, raw: &str) -> Result<url::Url, String> {
        check_url(raw, &self.allow)
    }

    /// POSTs `body` with `headers`; never follows a redirect (a 3xx is a failed attempt).
    pub async fn post(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
        timeout: Duration,
    ) -> Attempt {
        let started = Instant::now();
        let elapsed = |started: Instant| started.elapsed().as_millis() as u64;
        // A literal address never reaches the resolver: it is vetted here.
        let url = match self.check_url(url) {
            Ok(url) => url,
            Err(reason) => {
                return Attempt {
                    status: None,
                    latency_ms: 0,
                    error: Some(reason),
                };
            }
        };
        let mut request = self
            .http
            .post(url)
            .timeout(timeout)
            .header("content-type", "application/json")
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let error = (!response.status().is_success()).then(|| match status {
                    300..=399 => format!("HTTP {status} (redirects are not followed)"),
                    _ => format!("HTTP {status}"),
                });
                Attempt {
                    status: Some(status),
                    latency_ms: elapsed(started),
                    error,
                }
            }
            Err(e) => Attempt {
                status: None,
                latency_ms: elapsed(started),
                error: Some(describe(&e)),
            },
        }
    }
}

/// What a CRM's API answered: the status, and the body as JSON (`Null` when it was not).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: serde_json::Value,
}

/// The most of a CRM's answer that is read.
const MAX_REPLY_BYTES: usize = 1 << 20;

impl Outbound {
    /// Sends `body` as JSON (or nothing, for a GET) with `headers` and reads a JSON answer;
    /// never follows a redirect. `Err` when no answer came: refused by the guard, timeout,
    /// connection, an answer larger than 1 MiB.
    pub async fn exchange(
        &self,
        method: reqwest::Method,
        url: &str,
        headers: &[(&str, String)],
        body: Option<&serde_json::Value>,
        timeout: Duration,
    ) -> Result<Reply, String> {
        let url = self.check_url(url)?;
        let mut request = self.http.request(method, url).timeout(timeout);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let mut response = request.send().await.map_err(|e| describe(&e))?;
        let status = response.status().as_u16();
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| describe(&e))? {
            if bytes.len() + chunk.len() > MAX_REPLY_BYTES {
                return Err(format!("the answer is larger than {MAX_REPLY_BYTES} bytes"));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Reply {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        })
    }
}

/// A failed request in a line, without the URL (it may carry a token in its query).
fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timeout".to_owned()
    } else if e.is_connect() {
        "cannot connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

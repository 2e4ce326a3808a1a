//! Property tests of every registry adapter: whatever bytes a registry sends — random
//! ones, or one of its own answers with bytes flipped, cut short or spliced — the adapter
//! neither panics nor calls the answer clean by accident of a parse: a failure is
//! `unavailable` with a machine reason.

use kontragent::config::{SANDBOX_KAD_COOKIE, Secret, Settings};
use kontragent::domain::Inn;
use kontragent::sources::{SourceStatus, build_sources};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use wiremock::matchers::any as any_request;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Every registry fixture the sandbox serves, as mutation seeds.
fn seeds() -> Vec<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    out.sort();
    out
}

/// A fixture with some bytes flipped, a tail cut off, or a slice of another spliced in.
fn mutated() -> impl Strategy<Value = Vec<u8>> {
    let seeds = seeds();
    let n = seeds.len();
    (
        0..n,
        0..n,
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        any::<prop::sample::Index>(),
        any::<prop::sample::Index>(),
        0..3u8,
    )
        .prop_map(move |(a, b, flips, cut, splice_at, how)| {
            let mut body = seeds[a].clone();
            if body.is_empty() {
                return body;
            }
            for (at, byte) in flips {
                let i = at.index(body.len());
                body[i] = byte;
            }
            match how {
                0 => body.truncate(cut.index(body.len() + 1)),
                1 => {
                    let other = &seeds[b];
                    let at = splice_at.index(body.len());
                    let from = cut.index(other.len().max(1));
                    body.splice(at..at, other[from..].iter().copied().take(256));
                }
                _ => {}
            }
            body
        })
}

fn settings(base: &str) -> Settings {
    let mut s = Settings::default();
    for (_, src) in s.sources.iter_mut() {
        src.base_url = base.to_owned();
        src.rps = 0.0;
        src.poll_interval_ms = 1;
        src.max_polls = 2;
        src.max_pages = 2;
        src.timeout_ms = 5_000;
        src.max_attempts = 1;
        src.breaker_failures = 0;
    }
    s.sources["kad"].cookie = Secret::new(SANDBOX_KAD_COOKIE);
    s
}

fn run(cases: u32, strategy: impl Strategy<Value = Vec<u8>>) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(MockServer::start());
    let sources = build_sources(&settings(&server.uri()).sources).unwrap();
    let inn = Inn::parse("7701000019").unwrap();
    let mut runner = TestRunner::new(Config::with_cases(cases));
    runner
        .run(&(strategy, any::<bool>()), |(body, as_json)| {
            rt.block_on(async {
                server.reset().await;
                let content_type = if as_json {
                    "application/json"
                } else {
                    "text/html"
                };
                Mock::given(any_request())
                    .respond_with(
                        ResponseTemplate::new(200).set_body_raw(body.clone(), content_type),
                    )
                    .mount(&server)
                    .await;
                for source in &sources {
                    let report = source.fetch(&inn).await;
                    if report.status == SourceStatus::Unavailable {
                        let detail = report.detail.clone().unwrap_or_default();
                        prop_assert!(
                            !detail.is_empty(),
                            "{}: unavailable without a reason",
                            source.name()
                        );
                    }
                    prop_assert_eq!(report.source.as_str(), source.name());
                }
                Ok(())
            })
        })
        .unwrap();
}

#[test]
fn arbitrary_bytes_from_any_registry_are_unavailable_with_a_reason() {
    run(48, prop::collection::vec(any::<u8>(), 0..2048));
}

#[test]
fn fixtures_of_other_registries_and_their_mutations_never_crash_an_adapter() {
    run(96, mutated());
}

/// How the proxy spoils one answer of a flow: the `step`-th response it relays gets
/// bytes flipped and is maybe cut short; the others pass untouched, so the mutation
/// reaches the parser of every step (search, poll, card, publications, court pages).
#[derive(Clone, Default)]
struct Spoil {
    step: usize,
    seen: usize,
    flips: Vec<(prop::sample::Index, u8)>,
    cut: Option<prop::sample::Index>,
}

/// A proxy in front of the sandbox that relays every request and spoils one answer.
fn spoiling_proxy(sandbox: String, spoil: std::sync::Arc<std::sync::Mutex<Spoil>>) -> String {
    use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let client = reqwest::Client::new();
    let server = HttpServer::new(move || {
        let (client, sandbox, spoil) = (client.clone(), sandbox.clone(), spoil.clone());
        App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
            let (client, sandbox, spoil) = (client.clone(), sandbox.clone(), spoil.clone());
            async move {
                let url = format!("{sandbox}{}", req.uri());
                let mut forward = client
                    .request(
                        reqwest::Method::from_bytes(req.method().as_str().as_bytes()).unwrap(),
                        url,
                    )
                    .body(body.to_vec());
                for (name, value) in req.headers() {
                    if name != "host" {
                        forward = forward.header(name.as_str(), value.as_bytes());
                    }
                }
                let Ok(answer) = forward.send().await else {
                    return HttpResponse::BadGateway().finish();
                };
                let status = answer.status().as_u16();
                let content_type = answer
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("application/json")
                    .to_owned();
                let mut bytes = answer.bytes().await.unwrap_or_default().to_vec();
                {
                    let mut s = spoil.lock().unwrap();
                    if s.seen == s.step && !bytes.is_empty() {
                        for (at, byte) in &s.flips {
                            let i = at.index(bytes.len());
                            bytes[i] = *byte;
                        }
                        if let Some(cut) = &s.cut {
                            bytes.truncate(cut.index(bytes.len() + 1));
                        }
                    }
                    s.seen += 1;
                }
                HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
                    .content_type(content_type)
                    .body(bytes)
            }
        }))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    format!("http://127.0.0.1:{port}")
}

#[test]
fn a_spoiled_answer_at_any_step_of_a_real_flow_never_crashes_an_adapter() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let spoil = std::sync::Arc::new(std::sync::Mutex::new(Spoil::default()));
    let sources = rt.block_on(async {
        let sandbox = crate::helpers::spawn_sandbox();
        let proxy = spoiling_proxy(sandbox, spoil.clone());
        build_sources(&settings(&proxy).sources).unwrap()
    });
    // Companies whose flows go deep: bankruptcy everywhere, many court cases, a
    // creditor's intention, a reorganization notice, an entrepreneur.
    let inns = [
        "7701000040",
        "7702000269",
        "7702000220",
        "7702000244",
        "770100000142",
    ];
    let case = (
        prop::sample::select(inns.to_vec()),
        0..5usize,
        0..6usize,
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        prop::option::of(any::<prop::sample::Index>()),
    );
    // What each registry says when nothing is spoiled.
    let mut clean = std::collections::BTreeMap::new();
    for inn in inns {
        for (which, source) in sources.iter().enumerate() {
            spoil.lock().unwrap().step = usize::MAX;
            let report = rt.block_on(source.fetch(&Inn::parse(inn).unwrap()));
            clean.insert((inn, which), report.status);
        }
    }
    let mut runner = TestRunner::new(Config::with_cases(160));
    runner
        .run(&case, |(inn, which, step, flips, cut)| {
            let source = &sources[which];
            let unspoiled = clean[&(inn, which)];
            *spoil.lock().unwrap() = Spoil {
                step,
                seen: 0,
                flips: flips.clone(),
                cut,
            };
            let report = rt.block_on(source.fetch(&Inn::parse(inn).unwrap()));
            // The core promise: an answer cut short never turns a company with records
            // clean. (Flipped bytes can forge any well-formed answer, "none" included —
            // no parser can tell; those cases only have to fail without a panic.)
            if flips.is_empty() && cut.is_some() {
                prop_assert!(
                    !(unspoiled == SourceStatus::Ok && report.status == SourceStatus::NotFound),
                    "{} for {inn}: an answer cut short at step {step} read as not found",
                    source.name()
                );
            }
            if report.status == SourceStatus::Unavailable {
                prop_assert!(
                    report.detail.as_deref().is_some_and(|d| !d.is_empty()),
                    "{}: unavailable without a reason",
                    source.name()
                );
            }
            Ok(())
        })
        .unwrap();
}

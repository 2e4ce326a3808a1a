//! fedresurs, bankrot and kad against wiremock: requests as the registries expect them,
//! the parsing rules, and their failure shapes.

use crate::fixture;
use crate::helpers::{Registries, TestApp, rule_ids, source, spawn_app_with};
use crate::mocks::{self, json};
use wiremock::matchers::{body_partial_json, header, header_regex, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn app_with(
    name: &'static str,
    server: &MockServer,
    tweak: impl FnOnce(&mut kontragent::config::Settings),
) -> TestApp {
    spawn_app_with(Registries::Each(vec![(name, server.uri())]), |s| {
        for (_, src) in s.sources.iter_mut() {
            src.retry_base_ms = 5;
        }
        tweak(s)
    })
    .await
}

fn unavailable(reason: &str) -> (String, Option<String>) {
    ("unavailable".into(), Some(reason.into()))
}

// ── fedresurs ──

async fn fedresurs(search: &str, card: ResponseTemplate, pages: &[&str]) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/backend/companies"))
        .and(header("referer", "https://fedresurs.ru/"))
        .respond_with(json(search))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/backend/companies"))
        .respond_with(ResponseTemplate::new(403))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_suffix("/bankruptcy"))
        .respond_with(card)
        .mount(&server)
        .await;
    for (i, page) in pages.iter().enumerate() {
        Mock::given(method("GET"))
            .and(path_suffix("/publications"))
            .and(query_param("offset", (i * 15).to_string()))
            .respond_with(json(page))
            .mount(&server)
            .await;
    }
    server
}

fn path_suffix(suffix: &'static str) -> wiremock::matchers::PathRegexMatcher {
    wiremock::matchers::path_regex(format!("{}$", regex_escape(suffix)))
}

fn regex_escape(s: &str) -> String {
    s.replace('.', "\\.")
}

#[tokio::test]
async fn fedresurs_reads_the_card_and_every_publication_page() {
    let search = r#"{"pageData":[{"guid":"g-1","inn":"7702000220","name":"ООО \"ЛЕСТОРГ\"","status":"Действующее"}],"found":1}"#;
    let page = |offset: usize, date: &str, kind_key: &str| {
        format!(
            r#"{{"pageData":[{{"guid":"m{offset}","datePublish":"{date}","isAnnulled":false,"{kind_key}":"Намерение кредитора обратиться в суд с заявлением о банкротстве","publisher":{{"guid":"bank"}},"participants":[{{"guid":"g-1"}}]}}],"found":16}}"#
        )
    };
    let recent = (chrono::Utc::now() - chrono::Duration::days(10))
        .format("%Y-%m-%dT%H:%M:%S%.3f")
        .to_string();
    let first = page(0, "2020-01-01T00:00:00", "type");
    // The second page uses the older `title` key.
    let second = page(15, &recent, "title");
    let server = fedresurs(
        search,
        json(r#"{"legalCases":[],"intentionMessages":[]}"#),
        &[&first, &second],
    )
    .await;
    let app = app_with("fedresurs", &server, |_| {}).await;
    let check = app.check("7702000220").await;
    assert_eq!(source(&check, "fedresurs"), ("ok".into(), None));
    assert!(
        rule_ids(&check).contains(&"creditor_intent".to_owned()),
        "{check:#}"
    );
    assert_eq!(
        mocks::hits(&server, "/backend/companies/g-1/publications").await,
        2
    );
}

/// A page of `n` messages, dated from `first_days_ago` on by `step` days, with `found`.
fn publications(
    n: usize,
    first_days_ago: i64,
    step: i64,
    found: usize,
    kind: &str,
    ptype: &str,
) -> String {
    let messages: Vec<String> = (0..n as i64)
        .map(|i| {
            let date = (chrono::Utc::now() - chrono::Duration::days(first_days_ago + i * step))
                .format("%Y-%m-%dT%H:%M:%S")
                .to_string();
            format!(
                r#"{{"guid":"m{i}","datePublish":"{date}","isAnnulled":false,"type":"{kind}","publicationType":"{ptype}","publisher":{{"guid":"bank"}},"participants":[{{"guid":"g-1"}}]}}"#
            )
        })
        .collect();
    format!(r#"{{"pageData":[{}],"found":{found}}}"#, messages.join(","))
}

const CREDITOR_INTENT: &str = "Намерение кредитора обратиться в суд с заявлением о банкротстве";
const SEARCH_G1: &str = r#"{"pageData":[{"guid":"g-1","inn":"7702000220","name":"ООО \"ЛЕСТОРГ\"","status":"Действующее"}],"found":1}"#;

/// Offsets of the publication pages the server was asked for, in order.
async fn publication_offsets(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path().ends_with("/publications"))
        .filter_map(|r| {
            r.url
                .query_pairs()
                .find(|(k, _)| k == "offset")
                .map(|(_, v)| v.into_owned())
        })
        .collect()
}

/// Was: pages 0, 15, 30, 45 of an oldest-first list — the recent messages never read, and
/// nothing said that 1 000 messages were left out.
#[tokio::test]
async fn an_oldest_first_history_is_read_from_its_newest_end_and_marked_truncated() {
    let server = fedresurs(SEARCH_G1, json(r#"{"legalCases":[]}"#), &[]).await;
    // Page 0: old messages in ascending order; the last page holds this month's intention.
    let oldest = publications(15, 3000, -1, 100, "Сообщение о собрании", "SfactMessage");
    let newest = publications(10, 20, 1, 100, CREDITOR_INTENT, "SfactMessage");
    for (offset, body) in [("0", oldest.as_str()), ("90", newest.as_str())] {
        Mock::given(method("GET"))
            .and(path("/backend/companies/g-1/publications"))
            .and(query_param("offset", offset))
            .respond_with(json(body))
            .mount(&server)
            .await;
    }
    let other = publications(15, 1500, -1, 100, "Сообщение о собрании", "SfactMessage");
    Mock::given(method("GET"))
        .and(path("/backend/companies/g-1/publications"))
        .respond_with(json(&other))
        .mount(&server)
        .await;
    let app = app_with("fedresurs", &server, |s| {
        s.sources["fedresurs"].max_pages = 3
    })
    .await;
    let check = app.check("7702000220").await;
    assert_eq!(source(&check, "fedresurs"), ("ok".into(), None));
    assert_eq!(publication_offsets(&server).await, ["0", "90", "75"]);
    let ids = rule_ids(&check);
    assert!(ids.contains(&"creditor_intent".to_owned()), "{ids:?}");
    assert!(
        ids.contains(&"publications_truncated".to_owned()),
        "{ids:?}"
    );
}

/// Was: a ЕФРСБ procedure message read with the role rules of facts of activity.
#[tokio::test]
async fn only_facts_of_activity_carry_notice_signals() {
    let page = publications(2, 10, 1, 2, CREDITOR_INTENT, "BankruptcyMessage");
    let server = fedresurs(SEARCH_G1, json(r#"{"legalCases":[]}"#), &[&page]).await;
    let app = app_with("fedresurs", &server, |_| {}).await;
    let check = app.check("7702000220").await;
    assert_eq!(source(&check, "fedresurs"), ("ok".into(), None));
    // egrul and pb are off here, hence the other reasons; no notice signal among them.
    assert_eq!(
        rule_ids(&check),
        ["required_source_unchecked", "court_cases_unchecked"],
        "{check:#}"
    );
    // The same page as facts of activity is the signal: the filter is what kept it out.
    let page = publications(2, 10, 1, 2, CREDITOR_INTENT, "SfactMessage");
    let server = fedresurs(SEARCH_G1, json(r#"{"legalCases":[]}"#), &[&page]).await;
    let app = app_with("fedresurs", &server, |_| {}).await;
    let check = app.check("7702000220").await;
    assert!(rule_ids(&check).contains(&"creditor_intent".to_owned()));
}

#[tokio::test]
async fn fedresurs_without_a_referer_would_get_403_and_that_is_unavailable() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(403))
        .mount(&server)
        .await;
    let app = app_with("fedresurs", &server, |_| {}).await;
    let check = app.check("7702000220").await;
    assert_eq!(source(&check, "fedresurs"), unavailable("http_403"));
    assert_eq!(check["decision"], "review");
}

#[tokio::test]
async fn fedresurs_451_and_html_are_unavailable() {
    for (answer, reason) in [
        (ResponseTemplate::new(451), "http_451"),
        (
            ResponseTemplate::new(200).set_body_raw(
                fixture!("fedresurs-garbage.html").as_bytes().to_vec(),
                "text/html",
            ),
            "garbage",
        ),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(answer)
            .mount(&server)
            .await;
        let app = app_with("fedresurs", &server, |_| {}).await;
        let check = app.check("7702000220").await;
        assert_eq!(source(&check, "fedresurs"), unavailable(reason));
    }
}

#[tokio::test]
async fn fedresurs_row_without_status_and_without_a_card_is_still_an_answer() {
    let search =
        r#"{"pageData":[{"guid":"g-2","inn":"7702000220","name":"ООО \"ЛЕСТОРГ\""}],"found":1}"#;
    let server = fedresurs(
        search,
        ResponseTemplate::new(404),
        &[r#"{"pageData":[],"found":0}"#],
    )
    .await;
    let app = app_with("fedresurs", &server, |_| {}).await;
    let check = app.check("7702000220").await;
    assert_eq!(source(&check, "fedresurs"), ("ok".into(), None));
}

#[tokio::test]
async fn fedresurs_completed_case_is_not_an_active_bankruptcy() {
    let search = r#"{"pageData":[{"guid":"g-3","inn":"7702000220","name":"X","status":"Производство по делу о банкротстве завершено"}],"found":1}"#;
    let card = r#"{"legalCases":[{"number":"А40-1/2019","status":{"code":"Completed","name":"Завершено"}}],"intentionMessages":[]}"#;
    let server = fedresurs(search, json(card), &[r#"{"pageData":[],"found":0}"#]).await;
    let app = app_with("fedresurs", &server, |_| {}).await;
    let check = app.check("7702000220").await;
    let ids = rule_ids(&check);
    assert!(!ids.contains(&"bankruptcy_active".to_owned()), "{ids:?}");
    assert_eq!(check["company"]["bankruptcy_active"], false);
}

#[tokio::test]
async fn fedresurs_persons_are_searched_for_twelve_digit_inns() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/backend/persons"))
        .and(query_param("searchString", "770100000142"))
        .respond_with(json(r#"{"pageData":[],"found":0}"#))
        .expect(1)
        .mount(&server)
        .await;
    let app = app_with("fedresurs", &server, |_| {}).await;
    let check = app.check("770100000142").await;
    assert_eq!(source(&check, "fedresurs").0, "not_found");
}

// ── bankrot ──

#[tokio::test]
async fn bankrot_unescapes_names_and_reads_the_last_case() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/backend/cmpbankrupts"))
        .and(query_param("searchString", "7702000205"))
        .and(query_param("isActiveLegalCase", "null"))
        .and(header("origin", "https://bankrot.fedresurs.ru"))
        .respond_with(json(fixture!("bankrot-observation.json")))
        .mount(&server)
        .await;
    let app = app_with("bankrot", &server, |_| {}).await;
    let check = app.check("7702000205").await;
    assert_eq!(source(&check, "bankrot"), ("ok".into(), None));
    assert_eq!(check["company"]["name"], "ООО \"ОПОРА-СТРОЙ\"");
    assert_eq!(
        check["company"]["bankruptcy_case_number"],
        "А40-123456/2025"
    );
    assert_eq!(check["company"]["bankruptcy_stage"], "Наблюдение");
    assert_eq!(check["decision"], "reject");
}

/// Live rows say `isActive: true` on a stopped case (registries.md §16). Was: `reject`.
#[tokio::test]
async fn bankrot_decides_by_the_case_code_not_by_is_active() {
    let server = MockServer::start().await;
    let row = fixture!("bankrot-stopped-active-flag.json")
        .replace("{{inn}}", "7703000046")
        .replace("{{ogrn}}", "1027703000049")
        .replace("{{name-json}}", "ООО \\\"ФЛАЖОК\\\"");
    Mock::given(method("GET"))
        .and(path("/backend/cmpbankrupts"))
        .respond_with(json(&row))
        .mount(&server)
        .await;
    let app = app_with("bankrot", &server, |_| {}).await;
    let check = app.check("7703000046").await;
    assert_eq!(source(&check, "bankrot"), ("ok".into(), None));
    assert_eq!(check["company"]["bankruptcy_active"], false, "{check:#}");
    assert!(!rule_ids(&check).contains(&"bankruptcy_active".to_owned()));
}

/// Several cases in no guaranteed order; the running one counts wherever it is. Was: the
/// first (completed) case alone decided.
#[tokio::test]
async fn fedresurs_reads_every_case_of_the_card() {
    let card =
        fixture!("fedresurs-card-several-cases.json").replace("{{iso:-20}}", "2026-11-01T00:00:00");
    let server = fedresurs(SEARCH_G1, json(&card), &[]).await;
    let app = app_with("fedresurs", &server, |_| {}).await;
    let check = app.check("7702000220").await;
    assert_eq!(check["company"]["bankruptcy_active"], true);
    assert_eq!(check["company"]["bankruptcy_stage"], "Наблюдение");
    assert_eq!(check["company"]["bankruptcy_case_number"], "А40-55555/2026");
    assert_eq!(check["decision"], "reject");
    // An unknown code alone is sent to a person, never read as clean.
    let card = r#"{"legalCases":[{"number":"А40-1/2026","status":{"code":"AwaitingReview"}}]}"#;
    let server = fedresurs(SEARCH_G1, json(card), &[]).await;
    let app = app_with("fedresurs", &server, |_| {}).await;
    let check = app.check("7702000220").await;
    assert!(
        rule_ids(&check).contains(&"status_unrecognised".to_owned()),
        "{check:#}"
    );
}

#[tokio::test]
async fn bankrot_total_beyond_the_rows_read_is_incomplete() {
    let server = MockServer::start().await;
    let other = r#"{"pageData":[{"guid":"x","name":"ООО &quot;ДРУГОЕ&quot;","inn":"7709999999","isActive":true}],"total":31}"#;
    Mock::given(method("GET"))
        .and(path("/backend/cmpbankrupts"))
        .respond_with(json(other))
        .mount(&server)
        .await;
    let app = app_with("bankrot", &server, |_| {}).await;
    let check = app.check("7702000205").await;
    assert_eq!(source(&check, "bankrot"), unavailable("incomplete"));
}

#[tokio::test]
async fn bankrot_empty_is_the_clean_answer() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/backend/prsnbankrupts"))
        .respond_with(json(fixture!("bankrot-empty.json")))
        .mount(&server)
        .await;
    let app = app_with("bankrot", &server, |_| {}).await;
    let check = app.check("770100000142").await;
    assert_eq!(source(&check, "bankrot"), ("not_found".into(), None));
}

// ── kad ──

const COOKIE: &str = "wasm=0123456789abcdef0123456789abcdef; CUID=1";

fn with_cookie(s: &mut kontragent::config::Settings) {
    s.sources["kad"].cookie = kontragent::config::Secret::new(COOKIE);
}

#[tokio::test]
async fn kad_queries_each_role_with_the_configured_cookie() {
    let server = MockServer::start().await;
    let rows = fixture!("kad-many-respondent.html")
        .replace("{{inn}}", "7702000269")
        .replace("{{name}}", "ООО \"СПОРЩИК\"");
    Mock::given(method("POST"))
        .and(path("/Kad/SearchInstances"))
        .and(body_partial_json(serde_json::json!({"CaseType": "B"})))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            br#"<input type="hidden" id="documentsTotalCount" value="0" />"#.to_vec(),
            "text/html",
        ))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/Kad/SearchInstances"))
        .and(header_regex("cookie", "wasm=[0-9a-f]{32}"))
        .and(header("x-date-format", "iso"))
        .and(header("x-requested-with", "XMLHttpRequest"))
        .and(body_partial_json(
            serde_json::json!({"Sides": [{"Name": "7702000269", "Type": 1}], "DateFrom": null}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_raw(rows.into_bytes(), "text/html"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/Kad/SearchInstances"))
        .and(body_partial_json(
            serde_json::json!({"Sides": [{"Type": 0}]}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            br#"<input type="hidden" id="documentsTotalCount" value="3" />"#.to_vec(),
            "text/html",
        ))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/Kad/SearchInstances"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            br#"<input type="hidden" id="documentsTotalCount" value="14" />"#.to_vec(),
            "text/html",
        ))
        .mount(&server)
        .await;
    let app = app_with("kad", &server, with_cookie).await;
    let check = app.check("7702000269").await;
    assert_eq!(source(&check, "kad"), ("ok".into(), None));
    let court = &check["company"]["court"];
    assert_eq!(
        (
            &court["respondent_total"],
            &court["respondent_12m"],
            &court["plaintiff_total"],
            &court["bankruptcy_as_debtor"]
        ),
        (
            &serde_json::json!(37),
            &serde_json::json!(14),
            &serde_json::json!(3),
            &serde_json::json!(0)
        )
    );
    assert_eq!(court["cases"].as_array().unwrap().len(), 5);
    assert_eq!(court["cases"][0]["role"], "respondent");
    assert_eq!(mocks::hits(&server, "/Kad/SearchInstances").await, 4);
    let reason = check["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule_id"] == "many_respondent_cases")
        .unwrap();
    assert_eq!(
        reason["message"],
        "Дел в качестве ответчика за 12 месяцев: 14 (всего 37)"
    );
}

#[tokio::test]
async fn kad_without_a_wasm_cookie_is_blocked_without_asking() {
    let server = MockServer::start().await;
    let app = app_with("kad", &server, |_| {}).await;
    let check = app.check("7702000269").await;
    assert_eq!(source(&check, "kad"), unavailable("blocked"));
    assert_eq!(mocks::hits(&server, "/Kad/SearchInstances").await, 0);
    assert!(rule_ids(&check).contains(&"court_cases_unchecked".to_owned()));
}

#[tokio::test]
async fn a_ddos_guard_page_is_blocked() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            b"<html><head><title>DDoS-Guard</title></head><body>Checking your browser</body></html>"
                .to_vec(),
            "text/html",
        ))
        .mount(&server)
        .await;
    let app = app_with("kad", &server, with_cookie).await;
    let check = app.check("7702000269").await;
    assert_eq!(source(&check, "kad"), unavailable("blocked"));
    assert_eq!(
        mocks::hits(&server, "/Kad/SearchInstances").await,
        1,
        "an anti-bot answer is not retried"
    );
}

/// A 451 or 403 to a request that carried the cookie means the cookie went stale (live
/// `wasm` cookies last minutes, registries.md §16); it was once reported as `blocked`.
#[tokio::test]
async fn a_451_or_403_with_a_cookie_is_an_expired_cookie_and_is_not_retried() {
    for status in [451u16, 403] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(status)
                    .set_body_raw(fixture!("kad-451.html").as_bytes().to_vec(), "text/html"),
            )
            .mount(&server)
            .await;
        let app = app_with("kad", &server, with_cookie).await;
        let check = app.check("7702000269").await;
        assert_eq!(
            source(&check, "kad"),
            unavailable("cookie_expired"),
            "{status}"
        );
        assert_eq!(mocks::hits(&server, "/Kad/SearchInstances").await, 1);
        assert!(rule_ids(&check).contains(&"court_cases_unchecked".to_owned()));
    }
}

/// kad answers 200 to a request carrying every `name=value` of `fresh` (in any order, as a
/// browser may list them) and 451 to any other.
async fn kad_accepting_only(fresh: &str) -> MockServer {
    let server = MockServer::start().await;
    let mut accepted = Mock::given(method("POST")).and(path("/Kad/SearchInstances"));
    for pair in fresh.split("; ") {
        accepted = accepted.and(header_regex("cookie", &format!("(^|; ){pair}(;|$)")));
    }
    accepted
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture!("kad-empty.html").as_bytes().to_vec(), "text/html"),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(451)
                .set_body_raw(fixture!("kad-451.html").as_bytes().to_vec(), "text/html"),
        )
        .mount(&server)
        .await;
    server
}

/// A command that counts its runs in `dir/runs` and prints `cookie`.
fn cookie_command(dir: &std::path::Path, cookie: &str) -> String {
    format!("echo run >> {}/runs; echo '{cookie}'", dir.display())
}

fn runs(dir: &std::path::Path) -> usize {
    std::fs::read_to_string(dir.join("runs"))
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

fn scratch_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("kontragent-kad-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn an_expired_cookie_is_refreshed_by_the_command_and_the_flow_retried_once() {
    let fresh = "wasm=fedcba9876543210fedcba9876543210; pr_fp=ab";
    let server = kad_accepting_only(fresh).await;
    let dir = scratch_dir();
    let command = cookie_command(&dir, fresh);
    let app = app_with("kad", &server, |s| {
        with_cookie(s);
        s.sources["kad"].cookie_command = command;
        s.sources["kad"].cookie_refresh_s = 3600;
    })
    .await;
    let check = app.check("7702000269").await;
    assert_eq!(source(&check, "kad"), ("not_found".into(), None));
    assert_eq!(runs(&dir), 1);
    // The stale request, then the two of the retried flow with the fresh cookie.
    assert_eq!(mocks::hits(&server, "/Kad/SearchInstances").await, 3);
    // The next check uses the fresh cookie without running the command again.
    let check = app.check("7702000276").await;
    assert_eq!(source(&check, "kad"), ("not_found".into(), None));
    assert_eq!(runs(&dir), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_missing_cookie_is_fetched_and_the_command_runs_at_most_once_per_interval() {
    let fresh = "wasm=fedcba9876543210fedcba9876543210";
    let server = kad_accepting_only("wasm=never-this").await;
    let dir = scratch_dir();
    let command = cookie_command(&dir, fresh);
    let app = app_with("kad", &server, |s| {
        s.sources["kad"].cookie_command = command;
        s.sources["kad"].cookie_refresh_s = 3600;
    })
    .await;
    // No cookie configured: the command runs first; kad refuses what it printed.
    let check = app.check("7702000269").await;
    assert_eq!(source(&check, "kad"), unavailable("cookie_expired"));
    let check = app.check("7702000276").await;
    assert_eq!(source(&check, "kad"), unavailable("cookie_expired"));
    assert_eq!(runs(&dir), 1, "at most once per cookie_refresh_s");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_company_without_cases_costs_two_requests_spaced_by_the_gap() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture!("kad-empty.html").as_bytes().to_vec(), "text/html"),
        )
        .mount(&server)
        .await;
    let app = app_with("kad", &server, |s| {
        with_cookie(s);
        s.sources["kad"].request_gap_ms = 400;
    })
    .await;
    let started = std::time::Instant::now();
    let check = app.check("7702000269").await;
    assert_eq!(source(&check, "kad"), ("not_found".into(), None));
    assert_eq!(mocks::hits(&server, "/Kad/SearchInstances").await, 2);
    // A lower bound only: the second request waited for the gap.
    assert!(started.elapsed() >= std::time::Duration::from_millis(400));
}

#[tokio::test]
async fn a_kad_or_fedresurs_429_is_never_asked_again() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
        .mount(&server)
        .await;
    let app = app_with("kad", &server, with_cookie).await;
    let check = app.check("7702000269").await;
    assert_eq!(source(&check, "kad"), unavailable("http_429"));
    assert_eq!(mocks::hits(&server, "/Kad/SearchInstances").await, 1);

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429))
        .mount(&server)
        .await;
    let app = app_with("fedresurs", &server, |_| {}).await;
    let check = app.check("7702000220").await;
    assert_eq!(source(&check, "fedresurs"), unavailable("http_429"));
    assert_eq!(mocks::hits(&server, "/backend/companies").await, 1);
}

#[tokio::test]
async fn kad_json_shaped_answers_are_read() {
    let server = MockServer::start().await;
    let body = r#"{"Success":true,"Result":{"TotalCount":1,"Items":[{"CaseId":"c1","CaseNumber":"А40-77/2026","CaseType":"Б","Date":"2026-02-01T00:00:00","CourtName":"АС города Москвы","Respondents":[{"Name":"X","Inn":"7702000276"}]}]}}"#;
    Mock::given(method("POST"))
        .respond_with(json(body))
        .mount(&server)
        .await;
    let app = app_with("kad", &server, with_cookie).await;
    let check = app.check("7702000276").await;
    assert_eq!(source(&check, "kad").0, "ok");
    assert_eq!(check["company"]["court"]["cases"][0]["kind"], "bankruptcy");
    assert!(rule_ids(&check).contains(&"bankruptcy_case_as_debtor".to_owned()));
}

#[tokio::test]
async fn kad_error_page_is_garbage() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            fixture!("kad-garbage.html").as_bytes().to_vec(),
            "text/html",
        ))
        .mount(&server)
        .await;
    let app = app_with("kad", &server, with_cookie).await;
    let check = app.check("7702000276").await;
    assert_eq!(source(&check, "kad"), unavailable("garbage"));
}

/// `contrib/kad-cookie.py` as `cookie_command`, end to end: headless Chromium loads a page
/// (here a local one) whose script sets the cookies, the script prints them, and kad (here
/// wiremock) accepts the flow that carries them. Chromium resolves no name but 127.0.0.1.
#[tokio::test]
async fn the_contrib_cookie_script_feeds_kad_a_cookie_a_page_script_set() {
    use crate::helpers::installed;
    if !installed("chromium") || !installed("python3") {
        eprintln!(
            "SKIPPED contrib cookie script: no chromium or python3 (.ci/run installs chromium)"
        );
        return;
    }
    let page = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(
                br#"<!DOCTYPE html><html><body><script>setTimeout(function () {
                document.cookie = "wasm=fedcba9876543210fedcba9876543210; path=/";
                document.cookie = "pr_fp=0a1b2c; path=/"; }, 200);</script>kad</body></html>"#
                    .to_vec(),
                "text/html; charset=utf-8",
            ),
        )
        .mount(&page)
        .await;
    let kad = kad_accepting_only("wasm=fedcba9876543210fedcba9876543210; pr_fp=0a1b2c").await;
    let command = format!(
        "KAD_URL={}/ KAD_WAIT_S=60 CHROMIUM_FLAGS=\"'--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'\" python3 {}/contrib/kad-cookie.py",
        page.uri(),
        env!("CARGO_MANIFEST_DIR")
    );
    // A browser starts slowly on a busy machine: generous bounds, none of them timed.
    let app = app_with("kad", &kad, |s| {
        s.sources["kad"].cookie_command = command;
        s.sources["kad"].timeout_ms = 90_000;
        s.check.deadline_ms = 90_000;
        s.check.default_wait_ms = 90_000;
        s.check.max_wait_ms = 90_000;
    })
    .await;
    let check = app.check("7702000269").await;
    assert_eq!(
        source(&check, "kad"),
        ("not_found".into(), None),
        "{check:#}"
    );
    assert_eq!(mocks::hits(&kad, "/Kad/SearchInstances").await, 2);
}

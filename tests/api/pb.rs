//! The pb adapter against wiremock: async search and card, the old synchronous shape,
//! flags in every shape, and every failure shape.

use crate::fixture;
use crate::helpers::{Registries, TestApp, rule_ids, source, spawn_app_with};
use crate::mocks::{self, json};
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn app_on(pb: &MockServer, egrul: Option<&MockServer>) -> TestApp {
    spawn_app_with(
        Registries::Custom {
            egrul: egrul.map(MockServer::uri),
            pb: Some(pb.uri()),
        },
        |s| s.sources["pb"].timeout_ms = 1_000,
    )
    .await
}

fn unavailable(reason: &str) -> (String, Option<String>) {
    ("unavailable".into(), Some(reason.into()))
}

#[tokio::test]
async fn searches_by_mode_polls_and_reads_the_card() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/search-proc.json"))
        .and(body_string_contains("mode=search-ul"))
        .and(body_string_contains("queryUl=7701000040"))
        .and(header("referer", "https://pb.nalog.ru/search.html"))
        .respond_with(json(r#"{"id":"S1","captchaRequired":false}"#))
        .expect(1)
        .mount(&server)
        .await;
    // Not ready twice (`null`, then `{}`), then the rows.
    Mock::given(method("POST"))
        .and(path("/search-proc.json"))
        .and(body_string_contains("id=S1"))
        .and(body_string_contains("method=get-response"))
        .respond_with(json("null"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/search-proc.json"))
        .and(body_string_contains("method=get-response"))
        .respond_with(json("{}"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/search-proc.json"))
        .and(body_string_contains("method=get-response"))
        .respond_with(json(fixture!("pb-search-bankruptcy.json")))
        .mount(&server)
        .await;
    mocks::pb_card(&server, json(fixture!("pb-card-bankruptcy.json"))).await;
    let app = app_on(&server, None).await;
    let check = app.check("7701000040").await;
    assert_eq!(source(&check, "pb"), ("ok".into(), None));
    assert_eq!(check["company"]["status"], "BANKRUPTCY");
    assert_eq!(
        check["company"]["status_text"],
        "В отношении ЮЛ введено наблюдение"
    );
    assert_eq!(check["decision"], "reject");
    assert!(rule_ids(&check).contains(&"tax_arrears".to_owned()));
    assert_eq!(mocks::hits(&server, "/search-proc.json").await, 4);
}

#[tokio::test]
async fn entrepreneurs_are_searched_with_search_ip() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/search-proc.json"))
        .and(body_string_contains("mode=search-ip"))
        .and(body_string_contains("queryIp=770100000142"))
        .respond_with(json(r#"{"id":"S1"}"#))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/search-proc.json"))
        .and(body_string_contains("method=get-response"))
        .respond_with(json(fixture!("pb-search-entrepreneur.json")))
        .mount(&server)
        .await;
    mocks::pb_card(&server, json(fixture!("pb-card-entrepreneur.json"))).await;
    let app = app_on(&server, None).await;
    let check = app.check("770100000142").await;
    assert_eq!(source(&check, "pb").0, "ok");
    assert_eq!(check["company"]["kind"], "entrepreneur");
    assert_eq!(check["company"]["name"], "СИДОРОВА АННА ОЛЕГОВНА");
}

#[tokio::test]
async fn the_old_synchronous_shape_skips_polling_and_string_flags_count() {
    let server = MockServer::start().await;
    mocks::pb_search_start(&server, json(fixture!("pb-search-mass-address.json"))).await;
    mocks::pb_card(&server, json(fixture!("pb-card-mass-address.json"))).await;
    let app = app_on(&server, None).await;
    let check = app.check("7701000072").await;
    assert_eq!(source(&check, "pb").0, "ok");
    let ids = rule_ids(&check);
    assert!(
        ids.contains(&"mass_address".to_owned()) && ids.contains(&"tax_arrears".to_owned()),
        "{ids:?}"
    );
    // Only the latest monthly arrears snapshot counts.
    let arrears = check["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule_id"] == "tax_arrears")
        .unwrap();
    assert_eq!(
        arrears["message"],
        "Задолженность по налогам более 1000 ₽ (всего 254300.5 ₽)"
    );
    assert_eq!(mocks::hits(&server, "/search-proc.json").await, 1);
}

#[tokio::test]
async fn numeric_flags_count_like_string_flags() {
    let card = fixture!("pb-card-unreliable.json"); // "invalid":1 as a number
    let server = mocks::pb(
        fixture!("pb-search-clean.json")
            .replace("7701000019", "7701000065")
            .as_str(),
        card,
    )
    .await;
    let app = app_on(&server, None).await;
    let check = app.check("7701000065").await;
    assert!(
        rule_ids(&check).contains(&"unreliable_data".to_owned()),
        "{check:#}"
    );
}

#[tokio::test]
async fn empty_sections_are_not_found() {
    let server = mocks::pb(fixture!("pb-search-empty.json"), "{}").await;
    let app = app_on(&server, None).await;
    let check = app.check("7701000080").await;
    assert_eq!(source(&check, "pb"), ("not_found".into(), None));
}

#[tokio::test]
async fn more_rows_than_read_without_the_inn_is_incomplete() {
    let search = r#"{"ul":{"rowCount":57,"hasMore":true,"data":[{"inn":"7701999990","token":"X"}]},"ip":{"rowCount":0,"data":[]}}"#;
    let server = mocks::pb(search, "{}").await;
    let app = app_on(&server, None).await;
    let check = app.check("7701000019").await;
    assert_eq!(source(&check, "pb"), unavailable("incomplete"));
}

async fn search_failure(response: ResponseTemplate) -> (String, Option<String>) {
    let server = MockServer::start().await;
    mocks::pb_search_start(&server, response).await;
    let app = app_on(&server, None).await;
    let check = app.check("7701000019").await;
    assert_ne!(check["decision"], "approve");
    source(&check, "pb")
}

#[tokio::test]
async fn captcha_in_every_documented_shape_is_unavailable() {
    assert_eq!(
        search_failure(json(fixture!("pb-captcha.json"))).await,
        unavailable("captcha")
    );
    assert_eq!(
        search_failure(json(r#"{"captchaRequired":true}"#)).await,
        unavailable("captcha")
    );
    assert_eq!(
        search_failure(json(
            r#"{"ERRORS":{"pbRateLimit":["Слишком много запросов"]}}"#
        ))
        .await,
        unavailable("captcha")
    );
    // The live shapes: HTTP 400 with the reason in `ERRORS` (registries.md §16).
    for errors in [
        r#"{"ERRORS":{"pbCaptcha":["Требуется ввести цифры с картинки"]}}"#,
        r#"{"ERRORS":{"pbRateLimit":["Превышено количество запросов"]}}"#,
    ] {
        let r = ResponseTemplate::new(400)
            .set_body_raw(errors.as_bytes(), "application/json; charset=utf-8");
        assert_eq!(search_failure(r).await, unavailable("captcha"), "{errors}");
    }
}

#[tokio::test]
async fn blocking_statuses_and_html_are_unavailable() {
    for code in [403u16, 429, 451, 500] {
        assert_eq!(
            search_failure(ResponseTemplate::new(code)).await,
            unavailable(&format!("http_{code}"))
        );
    }
    let html = ResponseTemplate::new(200)
        .set_body_raw(b"<html><body>qrator</body></html>".to_vec(), "text/html");
    assert_eq!(search_failure(html).await, unavailable("blocked"));
}

#[tokio::test]
async fn a_card_failure_keeps_the_risk_the_row_showed() {
    // The row says "bankruptcy" (sulst_ex 30); the card then asks for a captcha.
    let server = MockServer::start().await;
    mocks::pb_search_start(&server, json(r#"{"id":"S1"}"#)).await;
    Mock::given(method("POST"))
        .and(path("/search-proc.json"))
        .and(body_string_contains("method=get-response"))
        .respond_with(json(fixture!("pb-search-bankruptcy.json")))
        .mount(&server)
        .await;
    mocks::pb_card(
        &server,
        json(r#"{"ERRORS":{"pbCaptcha":["Требуется ввести цифры с картинки"]}}"#),
    )
    .await;
    let egrul = mocks::egrul(fixture!("egrul-bankruptcy.json")).await;
    let app = app_on(&server, Some(&egrul)).await;
    let check = app.check("7701000040").await;
    assert_eq!(source(&check, "pb"), unavailable("captcha"));
    assert_eq!(source(&check, "egrul").0, "ok");
    // egrul alone would say ACTIVE: the failed source must not downgrade the known risk.
    assert_eq!(check["company"]["status"], "BANKRUPTCY");
    assert_eq!(check["decision"], "reject");
    let ids = rule_ids(&check);
    assert!(
        ids.contains(&"bankruptcy_stage".to_owned())
            && ids.contains(&"required_source_unchecked".to_owned()),
        "{ids:?}"
    );
}

#[tokio::test]
async fn garbage_search_result_is_unavailable() {
    let server = mocks::pb(fixture!("pb-search-garbage.json"), "{}").await;
    let app = app_on(&server, None).await;
    let check = app.check("7701000114").await;
    assert_eq!(source(&check, "pb"), unavailable("garbage"));
}

/// A captcha pauses PB for `captcha_pause_s` (S-PB3 pauses two hours): the next check does
/// not ask PB at all and says why.
#[tokio::test]
async fn a_captcha_pauses_the_source_and_the_next_check_does_not_ask() {
    let server = MockServer::start().await;
    mocks::pb_search_start(
        &server,
        ResponseTemplate::new(400).set_body_raw(
            r#"{"ERRORS":{"pbCaptcha":["Требуется ввести цифры с картинки"]}}"#.as_bytes(),
            "application/json",
        ),
    )
    .await;
    let app = spawn_app_with(
        Registries::Custom {
            egrul: None,
            pb: Some(server.uri()),
        },
        |s| s.sources["pb"].captcha_pause_s = 7200,
    )
    .await;
    let check = app.check("7701000019").await;
    assert_eq!(source(&check, "pb"), unavailable("captcha"));
    let check = app.check("7701000026").await;
    assert_eq!(source(&check, "pb"), unavailable("captcha_pause"));
    assert_eq!(mocks::hits(&server, "/search-proc.json").await, 1);
}

/// Live clients poll PB 8–10 times (registries.md §16). A card that is ready on the 8th
/// poll was a `timeout` with the old 6 polls; with the default 8 it is read.
#[tokio::test]
async fn a_card_ready_on_the_eighth_poll_is_read_with_the_default_poll_count() {
    let server = MockServer::start().await;
    pb_search_start_ok(&server).await;
    Mock::given(method("POST"))
        .and(path("/company-proc.json"))
        .and(body_string_contains("method=get-request"))
        .respond_with(json(r#"{"id":"C1","token":"CT1"}"#))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/company-proc.json"))
        .and(body_string_contains("method=get-response"))
        .respond_with(json("{}"))
        .up_to_n_times(7)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/company-proc.json"))
        .and(body_string_contains("method=get-response"))
        .respond_with(json(fixture!("pb-card-clean.json")))
        .mount(&server)
        .await;
    let app = spawn_app_with(
        Registries::Custom {
            egrul: None,
            pb: Some(server.uri()),
        },
        |s| assert_eq!(s.sources["pb"].max_polls, 8, "the default"),
    )
    .await;
    let check = app.check("7701000019").await;
    assert_eq!(source(&check, "pb"), ("ok".into(), None));
    assert_eq!(mocks::hits(&server, "/company-proc.json").await, 1 + 8);
}

async fn pb_search_start_ok(server: &MockServer) {
    mocks::pb_search_start(server, json(r#"{"id":"S1","captchaRequired":false}"#)).await;
    Mock::given(method("POST"))
        .and(path("/search-proc.json"))
        .and(body_string_contains("method=get-response"))
        .respond_with(json(fixture!("pb-search-clean.json")))
        .mount(server)
        .await;
}

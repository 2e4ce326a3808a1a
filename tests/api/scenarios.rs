//! Every sandbox scenario through the public API: decision, fired rules, each source's
//! status and the normalized company status.

use crate::helpers::{Registries, rule_ids, source, spawn_app, spawn_app_with};

async fn assert_scenario(
    check: serde_json::Value,
    decision: &str,
    rules: &[&str],
    egrul: (&str, Option<&str>),
    pb: (&str, Option<&str>),
    status: &str,
) {
    assert_eq!(check["state"], "done");
    assert_eq!(check["decision"], decision, "{check:#}");
    assert_eq!(rule_ids(&check), rules, "{check:#}");
    let own = |(s, d): (String, Option<String>)| (s, d);
    assert_eq!(
        own(source(&check, "egrul")),
        (egrul.0.to_owned(), egrul.1.map(String::from))
    );
    assert_eq!(
        own(source(&check, "pb")),
        (pb.0.to_owned(), pb.1.map(String::from))
    );
    assert_eq!(check["company"]["status"], status, "{check:#}");
    assert_eq!(check["ruleset_version"].as_str().map(str::len), Some(64));
}

macro_rules! scenario {
    ($name:ident, $inn:literal, $decision:literal, [$($rule:literal),*], egrul: $eg:expr, pb: $pb:expr, status: $status:literal) => {
        #[tokio::test]
        async fn $name() {
            let app = spawn_app().await;
            let check = app.check($inn).await;
            assert_scenario(check, $decision, &[$($rule),*], $eg, $pb, $status).await;
        }
    };
}

const OK: (&str, Option<&str>) = ("ok", None);
const NOT_FOUND: (&str, Option<&str>) = ("not_found", None);

scenario!(clean_company_is_approved, "7701000019", "approve", [], egrul: OK, pb: OK, status: "ACTIVE");
scenario!(liquidated_is_rejected, "7701000026", "reject", ["terminated", "no_reporting"], egrul: OK, pb: OK, status: "LIQUIDATED");
scenario!(in_liquidation_is_rejected, "7701000033", "reject", ["liquidating"], egrul: OK, pb: OK, status: "LIQUIDATING");
scenario!(bankruptcy_stage_is_rejected, "7701000040", "reject", ["bankruptcy_stage", "tax_arrears"], egrul: OK, pb: OK, status: "BANKRUPTCY");
scenario!(reorganizing_goes_to_review, "7701000058", "review", ["reorganizing"], egrul: OK, pb: OK, status: "REORGANIZING_CEASES");
scenario!(unreliable_data_goes_to_review, "7701000065", "review", ["unreliable_data"], egrul: OK, pb: OK, status: "ACTIVE");
scenario!(mass_address_and_arrears_lower_the_score, "7701000072", "review", ["mass_address", "tax_arrears"], egrul: OK, pb: OK, status: "ACTIVE");
scenario!(entrepreneur_is_approved, "770100000142", "approve", [], egrul: OK, pb: OK, status: "ACTIVE");
scenario!(unknown_company_is_not_approved, "7701000080", "review", ["unknown_company"], egrul: NOT_FOUND, pb: NOT_FOUND, status: "UNKNOWN");
scenario!(person_who_is_not_an_entrepreneur_is_not_approved, "770100000216", "review", ["unknown_company"], egrul: NOT_FOUND, pb: NOT_FOUND, status: "UNKNOWN");
scenario!(captcha_is_unavailable_not_clean, "7701000097", "review", ["required_source_unchecked"], egrul: ("unavailable", Some("captcha")), pb: ("unavailable", Some("captcha")), status: "UNKNOWN");
scenario!(garbage_is_unavailable_not_clean, "7701000114", "review", ["required_source_unchecked"], egrul: ("unavailable", Some("garbage")), pb: ("unavailable", Some("garbage")), status: "UNKNOWN");
scenario!(young_company_goes_to_review, "7701000121", "review", ["young_company"], egrul: OK, pb: OK, status: "ACTIVE");
scenario!(exclusion_pending_is_rejected, "7701000139", "reject", ["exclusion_pending", "no_reporting"], egrul: OK, pb: OK, status: "EXCLUSION_PENDING");
scenario!(unrecognised_status_goes_to_review, "7701000146", "review", ["status_unrecognised"], egrul: OK, pb: OK, status: "ACTIVE");
scenario!(pb_refusal_goes_to_review, "7701000153", "review", ["required_source_unchecked"], egrul: OK, pb: ("unavailable", Some("http_403")), status: "ACTIVE");

#[tokio::test]
async fn slow_registries_time_out_as_unavailable() {
    let app = spawn_app_with(Registries::Sandbox, |s| {
        for (_, src) in s.sources.iter_mut() {
            src.timeout_ms = 300;
        }
    })
    .await;
    let check = app.check("7701000107").await;
    assert_scenario(
        check,
        "review",
        &["required_source_unchecked"],
        ("unavailable", Some("timeout")),
        ("unavailable", Some("timeout")),
        "UNKNOWN",
    )
    .await;
}

#[tokio::test]
async fn the_check_deadline_bounds_every_source() {
    let app = spawn_app_with(Registries::Sandbox, |s| s.check.deadline_ms = 200).await;
    let check = app.check("7701000107").await;
    assert_eq!(
        source(&check, "egrul"),
        ("unavailable".into(), Some("timeout".into()))
    );
}

#[tokio::test]
async fn reasons_carry_rendered_messages_and_their_inputs() {
    let app = spawn_app().await;
    let check = app.check("7701000040").await;
    let reason = &check["reasons"][0];
    assert_eq!(reason["rule_id"], "bankruptcy_stage");
    assert_eq!(reason["effect"], "reject");
    assert_eq!(
        reason["message"],
        "Bankruptcy: В отношении ЮЛ введено наблюдение"
    );
    let input = &reason["inputs"][0];
    assert_eq!(input["fact"], "company.status");
    assert_eq!(input["value"], "BANKRUPTCY");
    assert_eq!(input["source"], "pb");
    assert!(input["as_of"].is_string());
    let arrears = &check["reasons"][1];
    assert_eq!(
        (arrears["effect"].as_str(), arrears["delta"].as_i64()),
        (Some("score"), Some(-25))
    );
    assert_eq!(check["score"], 75);
}

#[tokio::test]
async fn company_facts_are_merged_from_both_registries() {
    let app = spawn_app().await;
    let check = app.check("7701000019").await;
    let company = &check["company"];
    assert_eq!(company["name"], "ООО \"СЕВЕРНЫЙ ВЕТЕР\"");
    assert_eq!(company["ogrn"], "1027701000018");
    assert_eq!(company["kind"], "legal_entity");
    assert_eq!(company["registered_on"], "2011-03-14");
    assert_eq!(
        company["head"],
        "ГЕНЕРАЛЬНЫЙ ДИРЕКТОР: Иванов Иван Иванович"
    ); // egrul
    assert_eq!(company["address"], "125009, Г.МОСКВА, УЛ. ПРИМЕРНАЯ, Д. 1"); // pb card
}

#[tokio::test]
async fn entrepreneur_current_registration_is_chosen() {
    let app = spawn_app().await;
    let check = app.check("770100000142").await;
    assert_eq!(check["company"]["kind"], "entrepreneur");
    assert_eq!(check["company"]["ogrn"], "318770100000010");
    assert!(check["company"].get("terminated_on").is_none(), "{check:#}");
}

//! Every sandbox scenario through the public API: decision, fired rules, each source's
//! status and the normalized company status.

use crate::helpers::{Registries, rule_ids, source, spawn_app, spawn_app_with};

async fn assert_scenario(
    check: serde_json::Value,
    decision: &str,
    rules: &[&str],
    sources: &[(&str, (&str, Option<&str>))],
    status: &str,
) {
    assert_eq!(check["state"], "done");
    assert_eq!(check["decision"], decision, "{check:#}");
    assert_eq!(rule_ids(&check), rules, "{check:#}");
    for (name, (want, detail)) in sources {
        assert_eq!(
            source(&check, name),
            ((*want).to_owned(), detail.map(String::from)),
            "source {name}"
        );
    }
    assert_eq!(check["company"]["status"], status, "{check:#}");
    assert_eq!(check["ruleset_version"].as_str().map(str::len), Some(64));
}

/// `scenario!(test, inn, decision, [rules], [source => status, …], company status)`;
/// sources not listed are expected to be clean (`ok` for egrul and pb, `not_found` for the rest).
macro_rules! scenario {
    ($name:ident, $inn:literal, $decision:literal, [$($rule:literal),*], [$($src:literal => $st:expr),*], $status:literal) => {
        #[tokio::test]
        async fn $name() {
            let app = spawn_app().await;
            let check = app.check($inn).await;
            let sources = expected_sources(&[$(($src, $st)),*]);
            assert_scenario(check, $decision, &[$($rule),*], &sources, $status).await;
        }
    };
}

/// Clean answers (`ok` for egrul and pb, `not_found` for the rest) with `overrides` applied.
fn expected_sources(
    overrides: &[(&'static str, (&'static str, Option<&'static str>))],
) -> Vec<(&'static str, (&'static str, Option<&'static str>))> {
    ["egrul", "pb", "fedresurs", "bankrot", "kad"]
        .into_iter()
        .map(|name| {
            let clean = if matches!(name, "egrul" | "pb") {
                OK
            } else {
                NOT_FOUND
            };
            let st = overrides
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(clean, |(_, st)| *st);
            (name, st)
        })
        .collect()
}

const OK: (&str, Option<&str>) = ("ok", None);
const NOT_FOUND: (&str, Option<&str>) = ("not_found", None);
const fn unavailable(reason: &'static str) -> (&'static str, Option<&'static str>) {
    ("unavailable", Some(reason))
}

scenario!(
    clean_company_is_approved,
    "7701000019",
    "approve",
    [],
    [],
    "ACTIVE"
);
scenario!(
    liquidated_is_rejected,
    "7701000026",
    "reject",
    ["terminated", "no_reporting"],
    [],
    "LIQUIDATED"
);
scenario!(
    in_liquidation_is_rejected,
    "7701000033",
    "reject",
    ["liquidating"],
    [],
    "LIQUIDATING"
);
scenario!(bankruptcy_stage_is_rejected, "7701000040", "reject",
    ["bankruptcy_stage", "bankruptcy_active", "bankruptcy_case_as_debtor", "tax_arrears"],
    ["fedresurs" => OK, "bankrot" => OK, "kad" => OK], "BANKRUPTCY");
scenario!(
    reorganizing_goes_to_review,
    "7701000058",
    "review",
    ["reorganizing"],
    [],
    "REORGANIZING_CEASES"
);
scenario!(
    unreliable_data_goes_to_review,
    "7701000065",
    "review",
    ["unreliable_data"],
    [],
    "ACTIVE"
);
scenario!(
    mass_address_and_arrears_lower_the_score,
    "7701000072",
    "review",
    ["mass_address", "tax_arrears"],
    [],
    "ACTIVE"
);
scenario!(
    entrepreneur_is_approved,
    "770100000142",
    "approve",
    [],
    [],
    "ACTIVE"
);
scenario!(unknown_company_is_not_approved, "7701000080", "review", ["unknown_company"],
    ["egrul" => NOT_FOUND, "pb" => NOT_FOUND], "UNKNOWN");
scenario!(person_who_is_not_an_entrepreneur_is_not_approved, "770100000216", "review", ["unknown_company"],
    ["egrul" => NOT_FOUND, "pb" => NOT_FOUND], "UNKNOWN");
scenario!(captcha_is_unavailable_not_clean, "7701000097", "review", ["required_source_unchecked"],
    ["egrul" => unavailable("captcha"), "pb" => unavailable("captcha")], "UNKNOWN");
scenario!(garbage_is_unavailable_not_clean, "7701000114", "review", ["required_source_unchecked", "court_cases_unchecked"],
    ["egrul" => unavailable("garbage"), "pb" => unavailable("garbage"), "fedresurs" => unavailable("garbage"),
     "bankrot" => unavailable("garbage"), "kad" => unavailable("garbage")], "UNKNOWN");
scenario!(
    young_company_goes_to_review,
    "7701000121",
    "review",
    ["young_company"],
    [],
    "ACTIVE"
);
scenario!(
    exclusion_pending_is_rejected,
    "7701000139",
    "reject",
    ["exclusion_pending", "no_reporting"],
    [],
    "EXCLUSION_PENDING"
);
scenario!(
    unrecognised_status_goes_to_review,
    "7701000146",
    "review",
    ["status_unrecognised"],
    [],
    "ACTIVE"
);
scenario!(pb_refusal_goes_to_review, "7701000153", "review", ["required_source_unchecked"],
    ["pb" => unavailable("http_403")], "ACTIVE");

// ── Bankruptcy, notices and court cases ──

scenario!(observation_is_rejected_though_pb_still_says_active, "7702000205", "reject",
    ["bankruptcy_stage", "bankruptcy_active", "bankruptcy_case_as_debtor"],
    ["fedresurs" => OK, "bankrot" => OK, "kad" => OK], "BANKRUPTCY");
scenario!(competitive_proceedings_are_rejected, "7702000212", "reject",
    ["bankruptcy_stage", "bankruptcy_active"], ["fedresurs" => OK, "bankrot" => OK], "BANKRUPTCY");
scenario!(a_creditors_intention_about_the_company_goes_to_review, "7702000220", "review",
    ["creditor_intent"], ["fedresurs" => OK], "ACTIVE");
scenario!(intentions_the_company_publishes_about_others_are_no_signal, "7702000237", "approve",
    [], ["fedresurs" => OK], "ACTIVE");
scenario!(a_reorganization_notice_goes_to_review, "7702000244", "review",
    ["reorganization_notice"], ["fedresurs" => OK], "ACTIVE");
scenario!(a_liquidation_notice_is_rejected, "7702000251", "reject",
    ["liquidation_notice"], ["fedresurs" => OK], "ACTIVE");
scenario!(many_cases_as_respondent_lower_the_score, "7702000269", "review",
    ["many_respondent_cases"], ["kad" => OK], "ACTIVE");
scenario!(a_bankruptcy_case_as_debtor_in_kad_is_rejected, "7702000276", "reject",
    ["bankruptcy_case_as_debtor"], ["kad" => OK], "ACTIVE");
scenario!(a_truncated_fedresurs_page_cannot_prove_absence, "7702000283", "review",
    ["required_source_unchecked"], ["fedresurs" => unavailable("incomplete")], "ACTIVE");
scenario!(kad_refusing_the_cookie_is_a_visible_reason_not_a_review, "7702000290", "approve",
    ["court_cases_unchecked"], ["kad" => unavailable("cookie_expired")], "ACTIVE");
scenario!(fedresurs_refusal_goes_to_review, "7702000300", "review",
    ["required_source_unchecked"], ["fedresurs" => unavailable("http_403")], "ACTIVE");
scenario!(an_ended_bankruptcy_is_no_signal, "7702000318", "approve", [], ["bankrot" => OK], "ACTIVE");

#[tokio::test]
async fn slow_registries_time_out_as_unavailable() {
    let app = spawn_app_with(Registries::Sandbox, |s| {
        for (_, src) in s.sources.iter_mut() {
            src.timeout_ms = 300;
        }
    })
    .await;
    let check = app.check("7701000107").await;
    let t = unavailable("timeout");
    let all = [
        ("egrul", t),
        ("pb", t),
        ("fedresurs", t),
        ("bankrot", t),
        ("kad", t),
    ];
    assert_scenario(
        check,
        "review",
        &["required_source_unchecked", "court_cases_unchecked"],
        &all,
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
        "Банкротство: В отношении ЮЛ введено наблюдение"
    );
    let input = &reason["inputs"][0];
    assert_eq!(input["fact"], "company.status");
    assert_eq!(input["value"], "BANKRUPTCY");
    assert_eq!(input["source"], "pb");
    assert!(input["as_of"].is_string());
    let arrears = &check["reasons"][3];
    assert_eq!(
        (arrears["effect"].as_str(), arrears["delta"].as_i64()),
        (Some("score"), Some(-25))
    );
    assert_eq!(check["score"], 75);
}

/// A stored check reads in the language the client asks for; the rule and its effect never
/// change, and the other language stays beside it.
#[tokio::test]
async fn reasons_read_in_the_language_the_client_accepts() {
    let app = spawn_app().await;
    let check = app.check("7701000040").await;
    assert_eq!(check["language"], "ru");
    assert_eq!(check["reasons"][0]["title"], "Идёт процедура банкротства");
    assert_eq!(
        check["reasons"][0]["translations"]["en"]["message"],
        "Bankruptcy: В отношении ЮЛ введено наблюдение"
    );
    let get = |path: String, accept: &'static str| {
        let request = app.client.get(format!("{}{path}", app.address));
        async move {
            let r = request
                .header("Accept-Language", accept)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.json::<serde_json::Value>().await.unwrap()
        }
    };
    let english = get(
        format!("/v1/checks/{}", check["id"].as_str().unwrap()),
        "en-US,en;q=0.9,ru;q=0.5",
    )
    .await;
    assert_eq!(english["language"], "en");
    let reason = &english["reasons"][0];
    assert_eq!(
        (reason["rule_id"].as_str(), reason["effect"].as_str()),
        (Some("bankruptcy_stage"), Some("reject"))
    );
    assert_eq!(reason["title"], "A bankruptcy procedure is under way");
    assert_eq!(
        reason["message"],
        "Bankruptcy: В отношении ЮЛ введено наблюдение"
    );
    assert_eq!(
        reason["translations"]["ru"]["message"],
        "Банкротство: В отношении ЮЛ введено наблюдение"
    );
    assert!(reason["translations"].get("en").is_none());
    let dossier = get("/v1/counterparties/7701000040".into(), "en").await;
    assert_eq!(
        dossier["latest_check"]["reasons"][0]["title"],
        "A bankruptcy procedure is under way"
    );
    // A language the rules are not written in is the default.
    let german = get(
        format!("/v1/checks/{}", check["id"].as_str().unwrap()),
        "de",
    )
    .await;
    assert_eq!(german, check);

    let app = spawn_app_with(Registries::Sandbox, |s| {
        s.check.default_language = kontragent::domain::Language::En;
    })
    .await;
    let check = app.check("7701000040").await;
    assert_eq!(
        check["reasons"][0]["message"],
        "Bankruptcy: В отношении ЮЛ введено наблюдение"
    );
    let russian = app
        .client
        .post(format!("{}/v1/checks", app.address))
        .header("Accept-Language", "ru")
        .json(&serde_json::json!({"inn": "7701000040"}))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(russian["reasons"][0]["title"], "Идёт процедура банкротства");
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

// ── Shapes recorded by clients of the live sites in 2026 (registries.md §16). Each test
// names the answer the service gave before it read them right.

// Was `approve`: only the first case (completed) was read.
scenario!(a_running_case_after_a_completed_one_is_a_bankruptcy, "7703000014", "reject",
    ["bankruptcy_stage", "bankruptcy_active"], ["fedresurs" => OK], "BANKRUPTCY");
// Was `reject`: a code other than `Completed` with no `name` counted as running.
scenario!(a_stopped_case_is_no_bankruptcy, "7703000021", "approve", [], ["fedresurs" => OK], "ACTIVE");
// Was `reject` (any code but `Completed` was a running procedure); now a person looks.
scenario!(an_unknown_case_code_goes_to_a_person, "7703000039", "review",
    ["status_unrecognised"], ["fedresurs" => OK], "ACTIVE");
// Was `reject`: `isActive: true` counted as a running procedure.
scenario!(bankrot_is_active_on_a_stopped_case_is_no_bankruptcy, "7703000046", "approve", [],
    ["bankrot" => OK], "ACTIVE");
// Was `approve` with nothing to say that 1 180 messages went unread.
scenario!(unread_publications_are_a_visible_reason, "7703000053", "approve",
    ["publications_truncated"], ["fedresurs" => OK], "ACTIVE");
// Was `http_400` for both.
scenario!(a_nalog_400_with_errors_is_a_captcha, "7703000078", "review",
    ["required_source_unchecked"],
    ["egrul" => unavailable("captcha"), "pb" => unavailable("captcha")], "UNKNOWN");
scenario!(pb_card_refused_from_abroad_is_unavailable, "7703000085", "review",
    ["required_source_unchecked"], ["pb" => unavailable("http_500")], "ACTIVE");

/// Was "mass address unknown" (the mass_address rule could not be evaluated: a review for
/// missing data) and no arrears (the `empty` placeholder of the latest month summed to 0).
#[tokio::test]
async fn a_live_pb_card_without_masaddress_and_with_empty_arrear_rows() {
    let app = spawn_app().await;
    let check = app.check("7703000060").await;
    assert_scenario(
        check.clone(),
        "review",
        &["tax_arrears"],
        &expected_sources(&[]),
        "ACTIVE",
    )
    .await;
    assert_eq!(check["score"], 75);
    assert_eq!(check["reasons"][0]["inputs"][0]["value"], true);
}

scenario!(the_documentation_example_inn_is_approved, "7707083893", "approve", [],
    ["egrul" => OK, "pb" => OK], "ACTIVE");
scenario!(a_name_with_markup_characters_is_an_ordinary_company, "7703000092", "approve", [],
    ["egrul" => OK, "pb" => OK], "ACTIVE");

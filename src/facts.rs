//! Facts: the typed, precomputed values the rules read, merged from every source's
//! findings. Each fact remembers which source gave it and when, so a decision can show
//! its evidence. The catalog below is the documentation rule authors read
//! (`kontragent rules facts` prints it).

use crate::domain::CompanyStatus;
use crate::sources::{Findings, SourceReport, SourceStatus, merge, source_names};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// One fact's value and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Fact {
    /// `null` when no source could say.
    pub value: Value,
    /// The source that gave it; absent for facts the service computes about coverage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// When that source answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_of: Option<DateTime<Utc>>,
}

/// Facts by dotted name (`company.status`, `sources.pb.status`).
pub type Facts = BTreeMap<String, Fact>;

/// The documentation of one fact.
#[derive(Debug, Clone, Serialize)]
pub struct FactDef {
    pub name: String,
    /// `string`, `bool`, `int`, `double`, `list<string>` or `list<map>`; every fact may also be `null`.
    pub kind: &'static str,
    pub unit: &'static str,
    pub source: &'static str,
    pub description: &'static str,
    pub example: &'static str,
}

const COMPANY_FACTS: &[(&str, &str, &str, &str, &str, &str)] = &[
    // name, kind, unit, source, description, example
    (
        "company.known",
        "bool",
        "",
        "egrul, pb",
        "At least one registry has a record for the INN.",
        "true",
    ),
    (
        "company.status",
        "string",
        "",
        "egrul, pb",
        "Normalized status: ACTIVE, REORGANIZING_CONTINUES, REORGANIZING_CEASES, LIQUIDATING, EXCLUSION_PENDING, BANKRUPTCY, LIQUIDATED or UNKNOWN. The most severe any source reported.",
        "\"ACTIVE\"",
    ),
    (
        "company.status_text",
        "string",
        "",
        "pb",
        "The registry's own words for the status.",
        "\"В отношении ЮЛ введено наблюдение\"",
    ),
    (
        "company.status_unrecognised",
        "string",
        "",
        "pb",
        "A status text the service could not classify; null when every text was understood.",
        "null",
    ),
    (
        "company.terminated",
        "bool",
        "",
        "egrul, pb",
        "The company has ceased to exist (liquidated, excluded, merged away, ИП closed).",
        "false",
    ),
    (
        "company.terminated_on",
        "string",
        "date",
        "egrul",
        "Termination date, YYYY-MM-DD.",
        "\"2024-02-02\"",
    ),
    (
        "company.kind",
        "string",
        "",
        "egrul, pb",
        "legal_entity or entrepreneur.",
        "\"legal_entity\"",
    ),
    (
        "company.name",
        "string",
        "",
        "egrul, pb",
        "Short name, or ФИО of an entrepreneur.",
        "\"ООО \\\"СЕВЕРНЫЙ ВЕТЕР\\\"\"",
    ),
    (
        "company.ogrn",
        "string",
        "",
        "egrul, pb",
        "OGRN or OGRNIP.",
        "\"1027700123000\"",
    ),
    (
        "company.registered_on",
        "string",
        "date",
        "egrul, pb",
        "Registration (OGRN) date, YYYY-MM-DD.",
        "\"2011-03-14\"",
    ),
    (
        "company.age_months",
        "int",
        "months",
        "egrul, pb",
        "Whole months since registration.",
        "176",
    ),
    (
        "company.unreliable_data",
        "bool",
        "",
        "pb",
        "ЕГРЮЛ marks some of the company's data as unreliable (недостоверность).",
        "false",
    ),
    (
        "company.mass_address",
        "bool",
        "",
        "pb",
        "Other entities are registered at the company's address.",
        "false",
    ),
    (
        "company.mass_director",
        "bool",
        "",
        "pb",
        "The head or a founder runs many entities or is marked unreliable.",
        "false",
    ),
    (
        "company.tax_arrears",
        "bool",
        "",
        "pb",
        "Tax debt over 1000 ₽.",
        "false",
    ),
    (
        "company.tax_arrears_rub",
        "double",
        "RUB",
        "pb",
        "Total tax arrears of the latest period.",
        "1834250.17",
    ),
    (
        "company.no_reporting",
        "bool",
        "",
        "pb",
        "No tax reporting for more than a year.",
        "false",
    ),
    (
        "bankruptcy.active",
        "bool",
        "",
        "fedresurs, bankrot",
        "A bankruptcy procedure is under way (a registry's status, an open case, or an active entry in the bankrupt list).",
        "false",
    ),
    (
        "bankruptcy.stage",
        "string",
        "",
        "fedresurs, bankrot",
        "The procedure's stage in the registry's words.",
        "\"Наблюдение\"",
    ),
    (
        "bankruptcy.case_number",
        "string",
        "",
        "fedresurs, bankrot",
        "The bankruptcy case number.",
        "\"А40-123456/2025\"",
    ),
    (
        "bankruptcy.creditor_intent_recent",
        "bool",
        "",
        "fedresurs",
        "A creditor published an intention to file for the company's bankruptcy in the last 183 days (only messages where the company is a participant and not the publisher count).",
        "false",
    ),
    (
        "bankruptcy.creditor_intent_days_ago",
        "int",
        "days",
        "fedresurs",
        "Days since the latest such creditor's intention; null when there is none.",
        "40",
    ),
    (
        "bankruptcy.debtor_intent",
        "bool",
        "",
        "fedresurs",
        "The company itself published an intention to file for its own bankruptcy in the last 365 days.",
        "false",
    ),
    (
        "reorganization.notice_recent",
        "bool",
        "",
        "fedresurs",
        "A reorganization notice naming the company in the last 365 days.",
        "false",
    ),
    (
        "liquidation.notice",
        "bool",
        "",
        "fedresurs",
        "The company published a liquidation decision in the last 365 days.",
        "false",
    ),
    (
        "court.respondent_cases_total",
        "int",
        "cases",
        "kad",
        "Arbitration cases with the company as respondent, all time.",
        "12",
    ),
    (
        "court.respondent_cases_12m",
        "int",
        "cases",
        "kad",
        "Cases as respondent filed in the last 12 months.",
        "3",
    ),
    (
        "court.plaintiff_cases_total",
        "int",
        "cases",
        "kad",
        "Cases with the company as plaintiff.",
        "5",
    ),
    (
        "court.bankruptcy_cases_as_debtor",
        "int",
        "cases",
        "kad",
        "Bankruptcy cases (class Б) with the company as respondent, i.e. debtor.",
        "0",
    ),
    (
        "court.cases",
        "list<map>",
        "",
        "kad",
        "The most recent cases read: number, filed_on, kind (civil, civil_simple, administrative, bankruptcy, other), role (respondent, plaintiff, third_party, unknown), court, link.",
        "[]",
    ),
    (
        "sources.required_missing",
        "list<string>",
        "",
        "service",
        "Sources the profile requires that were not checked (unavailable or disabled).",
        "[]",
    ),
    (
        "sources.unavailable",
        "list<string>",
        "",
        "service",
        "Sources that gave no usable answer.",
        "[]",
    ),
];

/// Every fact a rule may read.
pub fn catalog() -> Vec<FactDef> {
    let mut out: Vec<FactDef> = COMPANY_FACTS
        .iter()
        .map(|(name, kind, unit, source, description, example)| FactDef {
            name: (*name).to_owned(),
            kind,
            unit,
            source,
            description,
            example,
        })
        .collect();
    for name in source_names() {
        out.push(FactDef {
            name: format!("sources.{name}.status"),
            kind: "string",
            unit: "",
            source: "service",
            description: "How this source answered: ok, not_found, unavailable, stale or disabled.",
            example: "\"ok\"",
        });
        out.push(FactDef {
            name: format!("sources.{name}.detail"),
            kind: "string",
            unit: "",
            source: "service",
            description: "Why the source was unavailable (timeout, http_403, captcha, blocked, garbage, incomplete…), else null.",
            example: "null",
        });
    }
    out
}

/// The catalog as the Markdown table committed in `rules/FACTS.md`.
pub fn catalog_markdown() -> String {
    let mut out = String::from(
        "# Facts a rule may read\n\n\
         Generated by `kontragent rules facts --markdown`; a test fails when this file and the code differ.\n\
         Every fact may be `null` when no source could say; compare with `!= null` first, or a\n\
         rule that reads a missing value yields `review` (\"data missing for rule …\").\n\n\
         | fact | type | unit | from | meaning | example |\n|---|---|---|---|---|---|\n",
    );
    for f in catalog() {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | `{}` |\n",
            f.name,
            f.kind.replace('<', "&lt;").replace('>', "&gt;"),
            f.unit,
            f.source,
            f.description.replace('|', "\\|"),
            f.example
        ));
    }
    out
}

/// Merges the sources' findings into facts. `required` are the sources the scoring
/// profile needs; `now` fixes the clock for ages.
pub fn compute(reports: &[SourceReport], required: &[String], now: DateTime<Utc>) -> Facts {
    let mut facts = Facts::new();
    // Sources that answered with usable data (an unavailable source keeps what it parsed
    // before failing, so a known risk still fires).
    let usable = merge::usable(reports);
    let from = from_report;
    let first = |pick: &dyn Fn(&Findings) -> Option<Value>| {
        merge::first_stated(&usable, pick).map_or_else(null, |(v, r)| from(r, v))
    };
    let any_true = |pick: &dyn Fn(&Findings) -> Option<bool>| {
        let said: Vec<(&SourceReport, bool)> = usable
            .iter()
            .filter_map(|r| pick(&r.findings).map(|b| (*r, b)))
            .collect();
        match said.iter().find(|(_, b)| *b).or(said.first()) {
            Some((r, b)) => from(r, json!(b)),
            None => null(),
        }
    };

    let known = usable.iter().find(|r| {
        matches!(r.status, SourceStatus::Ok | SourceStatus::Stale)
            || (r.status == SourceStatus::Unavailable && r.findings.status.is_some())
    });
    facts.insert(
        "company.known".into(),
        match known {
            Some(r) => from(r, json!(true)),
            None => computed(json!(false)),
        },
    );

    let worst = merge::worst_status(&usable);
    let status = match worst {
        Some((s, r)) => from(r, json!(s.as_str())),
        None => Fact {
            value: json!(CompanyStatus::Unknown.as_str()),
            source: None,
            as_of: None,
        },
    };
    let terminated_on = first(&|f| f.terminated_on.map(|d| json!(d.to_string())));
    let terminated = match worst {
        Some((CompanyStatus::Liquidated, r)) => from(r, json!(true)),
        _ if !terminated_on.value.is_null() => Fact {
            value: json!(true),
            ..terminated_on.clone()
        },
        Some((_, r)) => from(r, json!(false)),
        None => null(),
    };
    facts.insert("company.status".into(), status);
    facts.insert("company.terminated".into(), terminated);
    facts.insert("company.terminated_on".into(), terminated_on);
    facts.insert(
        "company.status_text".into(),
        match worst {
            Some((_, r)) if r.findings.status_text.is_some() => {
                from(r, json!(r.findings.status_text))
            }
            _ => first(&|f| f.status_text.clone().map(Value::from)),
        },
    );
    facts.insert(
        "company.status_unrecognised".into(),
        first(&|f| f.status_unrecognised.clone().map(Value::from)),
    );
    facts.insert(
        "company.kind".into(),
        first(&|f| f.kind.map(|k| json!(k.as_str()))),
    );
    facts.insert(
        "company.name".into(),
        first(&|f| f.name.clone().map(Value::from)),
    );
    facts.insert(
        "company.ogrn".into(),
        first(&|f| f.ogrn.clone().map(Value::from)),
    );
    let registered = first(&|f| f.registered_on.map(|d| json!(d.to_string())));
    let age = match registered
        .value
        .as_str()
        .and_then(|d| d.parse::<NaiveDate>().ok())
    {
        Some(d) => Fact {
            value: json!(months_between(d, now.date_naive())),
            ..registered.clone()
        },
        None => null(),
    };
    facts.insert("company.registered_on".into(), registered);
    facts.insert("company.age_months".into(), age);
    facts.insert(
        "company.unreliable_data".into(),
        any_true(&|f| f.unreliable_data),
    );
    facts.insert("company.mass_address".into(), any_true(&|f| f.mass_address));
    facts.insert(
        "company.mass_director".into(),
        any_true(&|f| f.mass_director),
    );
    facts.insert("company.tax_arrears".into(), any_true(&|f| f.tax_arrears));
    facts.insert("company.no_reporting".into(), any_true(&|f| f.no_reporting));
    facts.insert(
        "company.tax_arrears_rub".into(),
        first(&|f| f.tax_arrears_rub.map(Value::from)),
    );

    bankruptcy_facts(&mut facts, &usable, now);
    court_facts(&mut facts, &usable);

    for name in source_names() {
        let report = reports.iter().find(|r| r.source == name);
        let (status, detail) = match report {
            Some(r) => (r.status, r.detail.clone()),
            None => (SourceStatus::Disabled, None),
        };
        facts.insert(
            format!("sources.{name}.status"),
            Fact {
                value: json!(status.as_str()),
                source: Some(name.to_string()),
                as_of: report.map(|r| r.fetched_at),
            },
        );
        facts.insert(format!("sources.{name}.detail"), computed(json!(detail)));
    }
    apply_coverage(&mut facts, required);
    facts
}

/// Computes `sources.required_missing` and `sources.unavailable` from the
/// `sources.<name>.status` facts for a profile that requires `required`: once for a fresh
/// check, and again when stored facts are judged under another profile (dry-run, golden
/// cases).
pub fn apply_coverage(facts: &mut Facts, required: &[String]) {
    let status = |name: &str| {
        facts
            .get(&format!("sources.{name}.status"))
            .and_then(|f| f.value.as_str())
            .and_then(SourceStatus::parse)
            .unwrap_or(SourceStatus::Disabled)
    };
    let missing: Vec<&String> = required
        .iter()
        .filter(|n| !status(n).is_checked())
        .collect();
    let unavailable: Vec<&str> = source_names()
        .filter(|n| status(n) == SourceStatus::Unavailable)
        .collect();
    let missing = computed(json!(missing));
    let unavailable = computed(json!(unavailable));
    facts.insert("sources.required_missing".into(), missing);
    facts.insert("sources.unavailable".into(), unavailable);
}

/// No source could say.
fn null() -> Fact {
    computed(Value::Null)
}

/// A fact the service computes itself (coverage), with no source of its own.
fn computed(value: Value) -> Fact {
    Fact {
        value,
        source: None,
        as_of: None,
    }
}

/// A creditor's intention older than this no longer counts as recent.
pub const CREDITOR_INTENT_WINDOW_DAYS: i64 = 183;
/// Debtor's intentions, reorganization and liquidation notices count for this long.
pub const NOTICE_WINDOW_DAYS: i64 = 365;

fn from_report(r: &SourceReport, value: Value) -> Fact {
    Fact {
        value,
        source: Some(r.source.clone()),
        as_of: Some(r.fetched_at),
    }
}

/// The first of `names` that was checked (its silence then means "no").
fn checked<'a>(reports: &[&'a SourceReport], names: &[&str]) -> Option<&'a SourceReport> {
    reports
        .iter()
        .copied()
        .find(|r| names.contains(&r.source.as_str()) && r.status.is_checked())
}

/// The newest date any source gave for `pick`, with that source.
fn newest<'a>(
    reports: &[&'a SourceReport],
    pick: impl Fn(&Findings) -> Option<NaiveDate>,
) -> Option<(NaiveDate, &'a SourceReport)> {
    reports
        .iter()
        .filter_map(|r| pick(&r.findings).map(|d| (d, *r)))
        .max_by_key(|(d, _)| *d)
}

fn bankruptcy_facts(facts: &mut Facts, usable: &[&SourceReport], now: DateTime<Utc>) {
    let today = now.date_naive();
    let answered = checked(usable, &["fedresurs", "bankrot"]);
    let active = usable
        .iter()
        .find(|r| r.findings.bankruptcy_active == Some(true))
        .or_else(|| {
            usable
                .iter()
                .find(|r| r.findings.bankruptcy_active.is_some())
        })
        .map(|r| from_report(r, json!(r.findings.bankruptcy_active)))
        .or_else(|| answered.map(|r| from_report(r, json!(false))))
        .unwrap_or_else(null);
    facts.insert("bankruptcy.active".into(), active);
    let first_text = |pick: fn(&Findings) -> Option<String>| {
        usable
            .iter()
            .find_map(|r| pick(&r.findings).map(|v| from_report(r, json!(v))))
            .unwrap_or_else(null)
    };
    facts.insert(
        "bankruptcy.stage".into(),
        first_text(|f| f.bankruptcy_stage.clone()),
    );
    facts.insert(
        "bankruptcy.case_number".into(),
        first_text(|f| f.bankruptcy_case_number.clone()),
    );

    let fedresurs = checked(usable, &["fedresurs"]);
    // A dated signal: recent when younger than the window; `false` when fedresurs answered
    // without one; unknown when it did not answer.
    let within = |pick: fn(&Findings) -> Option<NaiveDate>, window: i64| match newest(usable, pick)
    {
        Some((d, r)) => from_report(r, json!((today - d).num_days() <= window)),
        None => fedresurs
            .map(|r| from_report(r, json!(false)))
            .unwrap_or_else(null),
    };
    facts.insert(
        "bankruptcy.creditor_intent_recent".into(),
        within(|f| f.creditor_intent_on, CREDITOR_INTENT_WINDOW_DAYS),
    );
    facts.insert(
        "bankruptcy.creditor_intent_days_ago".into(),
        newest(usable, |f| f.creditor_intent_on)
            .map(|(d, r)| from_report(r, json!((today - d).num_days())))
            .unwrap_or_else(null),
    );
    facts.insert(
        "bankruptcy.debtor_intent".into(),
        within(|f| f.debtor_intent_on, NOTICE_WINDOW_DAYS),
    );
    facts.insert(
        "reorganization.notice_recent".into(),
        within(|f| f.reorganization_notice_on, NOTICE_WINDOW_DAYS),
    );
    facts.insert(
        "liquidation.notice".into(),
        within(|f| f.liquidation_notice_on, NOTICE_WINDOW_DAYS),
    );
}

fn court_facts(facts: &mut Facts, usable: &[&SourceReport]) {
    let court = usable
        .iter()
        .find_map(|r| r.findings.court.as_ref().map(|c| (c, *r)));
    let count = |pick: fn(&crate::sources::CourtFindings) -> u64| match court {
        Some((c, r)) => from_report(r, json!(pick(c))),
        None => null(),
    };
    facts.insert(
        "court.respondent_cases_total".into(),
        count(|c| c.respondent_total),
    );
    facts.insert(
        "court.respondent_cases_12m".into(),
        count(|c| c.respondent_12m),
    );
    facts.insert(
        "court.plaintiff_cases_total".into(),
        count(|c| c.plaintiff_total),
    );
    facts.insert(
        "court.bankruptcy_cases_as_debtor".into(),
        count(|c| c.bankruptcy_as_debtor),
    );
    let cases = match court {
        Some((c, r)) => from_report(
            r,
            Value::Array(
                c.cases
                    .iter()
                    .map(|k| {
                        json!({"number": k.number, "filed_on": k.filed_on.map(|d| d.to_string()),
                               "kind": k.kind, "role": k.role, "court": k.court, "link": k.link})
                    })
                    .collect(),
            ),
        ),
        None => null(),
    };
    facts.insert("court.cases".into(), cases);
}

/// Whole months from `from` to `to` (0 when `to` is earlier).
pub fn months_between(from: NaiveDate, to: NaiveDate) -> i64 {
    let mut months =
        i64::from(to.year() - from.year()) * 12 + i64::from(to.month()) - i64::from(from.month());
    if to.day() < from.day() {
        months -= 1;
    }
    months.max(0)
}

/// Facts from `(name, value)` pairs, all from `source` (a test helper shared by the unit
/// tests of the rules, the engine and monitoring).
#[cfg(test)]
pub(crate) fn from_pairs(pairs: &[(&str, Value)], source: Option<&str>) -> Facts {
    pairs
        .iter()
        .map(|(name, value)| {
            (
                (*name).to_owned(),
                Fact {
                    value: value.clone(),
                    source: source.map(str::to_owned),
                    as_of: None,
                },
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(source: &str, status: SourceStatus, findings: Findings) -> SourceReport {
        SourceReport {
            source: source.into(),
            status,
            detail: None,
            fetched_at: Utc::now(),
            findings,
            evidence: vec![],
        }
    }

    #[test]
    fn every_computed_fact_is_in_the_catalog_and_back() {
        let facts = compute(&[], &[], Utc::now());
        let names: Vec<String> = catalog().into_iter().map(|d| d.name).collect();
        for key in facts.keys() {
            assert!(names.contains(key), "{key} missing from the catalog");
        }
        for name in &names {
            assert!(
                facts.contains_key(name),
                "{name} is documented but never computed"
            );
        }
    }

    #[test]
    fn a_failed_source_never_downgrades_a_known_risk() {
        let egrul = report(
            "egrul",
            SourceStatus::Ok,
            Findings {
                status: Some(CompanyStatus::Active),
                ..Default::default()
            },
        );
        let pb = report(
            "pb",
            SourceStatus::Unavailable,
            Findings {
                status: Some(CompanyStatus::Bankruptcy),
                ..Default::default()
            },
        );
        let facts = compute(&[egrul, pb], &["egrul".into(), "pb".into()], Utc::now());
        assert_eq!(facts["company.status"].value, json!("BANKRUPTCY"));
        assert_eq!(facts["company.status"].source.as_deref(), Some("pb"));
        assert_eq!(facts["sources.required_missing"].value, json!(["pb"]));
    }

    #[test]
    fn nobody_knows_means_unknown() {
        let facts = compute(
            &[report("egrul", SourceStatus::NotFound, Findings::default())],
            &[],
            Utc::now(),
        );
        assert_eq!(facts["company.status"].value, json!("UNKNOWN"));
        assert_eq!(facts["company.known"].value, json!(false));
        assert_eq!(facts["company.age_months"].value, Value::Null);
    }

    #[test]
    fn months_between_counts_whole_months() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
        assert_eq!(months_between(d(2025, 1, 15), d(2026, 1, 15)), 12);
        assert_eq!(months_between(d(2025, 1, 15), d(2026, 1, 14)), 11);
        assert_eq!(months_between(d(2026, 1, 15), d(2025, 1, 14)), 0);
    }
}

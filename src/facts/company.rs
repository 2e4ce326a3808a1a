//! What the company registries (egrul, pb) say about the company itself: whether it
//! exists, its status, its identity and pb's risk markers.

use super::{Fact, FactDef, Facts, computed, from_report, null, put};
use crate::domain::CompanyStatus;
use crate::sources::{Findings, SourceReport, SourceStatus, merge};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde_json::{Value, json};
use std::borrow::Cow;

pub(super) const KNOWN: FactDef = FactDef {
    name: Cow::Borrowed("company.known"),
    kind: "bool",
    unit: "",
    source: "egrul, pb",
    description: "At least one registry has a record for the INN.",
    example: "true",
};

pub(super) const STATUS: FactDef = FactDef {
    name: Cow::Borrowed("company.status"),
    kind: "string",
    unit: "",
    source: "egrul, pb",
    description: "Normalized status: ACTIVE, REORGANIZING_CONTINUES, REORGANIZING_CEASES, LIQUIDATING, EXCLUSION_PENDING, BANKRUPTCY, LIQUIDATED or UNKNOWN. The most severe any source reported.",
    example: "\"ACTIVE\"",
};

pub(super) const STATUS_TEXT: FactDef = FactDef {
    name: Cow::Borrowed("company.status_text"),
    kind: "string",
    unit: "",
    source: "pb",
    description: "The words for the status of the registry that gave `company.status` (null when that registry has none: words of another registry could contradict it).",
    example: "\"В отношении ЮЛ введено наблюдение\"",
};

pub(super) const STATUS_UNRECOGNISED: FactDef = FactDef {
    name: Cow::Borrowed("company.status_unrecognised"),
    kind: "string",
    unit: "",
    source: "pb",
    description: "A status text the service could not classify; null when every text was understood.",
    example: "null",
};

pub(super) const TERMINATED: FactDef = FactDef {
    name: Cow::Borrowed("company.terminated"),
    kind: "bool",
    unit: "",
    source: "egrul, pb",
    description: "The company has ceased to exist (liquidated, excluded, merged away, ИП closed).",
    example: "false",
};

pub(super) const TERMINATED_ON: FactDef = FactDef {
    name: Cow::Borrowed("company.terminated_on"),
    kind: "string",
    unit: "date",
    source: "egrul",
    description: "Termination date, YYYY-MM-DD.",
    example: "\"2024-02-02\"",
};

pub(super) const KIND: FactDef = FactDef {
    name: Cow::Borrowed("company.kind"),
    kind: "string",
    unit: "",
    source: "egrul, pb",
    description: "legal_entity or entrepreneur.",
    example: "\"legal_entity\"",
};

pub(super) const NAME: FactDef = FactDef {
    name: Cow::Borrowed("company.name"),
    kind: "string",
    unit: "",
    source: "egrul, pb",
    description: "Short name, or ФИО of an entrepreneur.",
    example: "\"ООО \\\"СЕВЕРНЫЙ ВЕТЕР\\\"\"",
};

pub(super) const OGRN: FactDef = FactDef {
    name: Cow::Borrowed("company.ogrn"),
    kind: "string",
    unit: "",
    source: "egrul, pb",
    description: "OGRN or OGRNIP.",
    example: "\"1027700123000\"",
};

pub(super) const REGISTERED_ON: FactDef = FactDef {
    name: Cow::Borrowed("company.registered_on"),
    kind: "string",
    unit: "date",
    source: "egrul, pb",
    description: "Registration (OGRN) date, YYYY-MM-DD.",
    example: "\"2011-03-14\"",
};

pub(super) const AGE_MONTHS: FactDef = FactDef {
    name: Cow::Borrowed("company.age_months"),
    kind: "int",
    unit: "months",
    source: "egrul, pb",
    description: "Whole months since registration.",
    example: "176",
};

pub(super) const UNRELIABLE_DATA: FactDef = FactDef {
    name: Cow::Borrowed("company.unreliable_data"),
    kind: "bool",
    unit: "",
    source: "pb",
    description: "ЕГРЮЛ marks some of the company's data as unreliable (недостоверность).",
    example: "false",
};

pub(super) const MASS_ADDRESS: FactDef = FactDef {
    name: Cow::Borrowed("company.mass_address"),
    kind: "bool",
    unit: "",
    source: "pb",
    description: "Other entities are registered at the company's address.",
    example: "false",
};

pub(super) const MASS_DIRECTOR: FactDef = FactDef {
    name: Cow::Borrowed("company.mass_director"),
    kind: "bool",
    unit: "",
    source: "pb",
    description: "The head or a founder runs many entities or is marked unreliable.",
    example: "false",
};

pub(super) const TAX_ARREARS: FactDef = FactDef {
    name: Cow::Borrowed("company.tax_arrears"),
    kind: "bool",
    unit: "",
    source: "pb",
    description: "Tax debt over 1000 ₽.",
    example: "false",
};

pub(super) const TAX_ARREARS_RUB: FactDef = FactDef {
    name: Cow::Borrowed("company.tax_arrears_rub"),
    kind: "double",
    unit: "RUB",
    source: "pb",
    description: "Total tax arrears of the latest period.",
    example: "1834250.17",
};

pub(super) const NO_REPORTING: FactDef = FactDef {
    name: Cow::Borrowed("company.no_reporting"),
    kind: "bool",
    unit: "",
    source: "pb",
    description: "No tax reporting for more than a year.",
    example: "false",
};

/// In the order `rules/FACTS.md` lists them.
pub(super) const DEFINED: &[FactDef] = &[
    KNOWN,
    STATUS,
    STATUS_TEXT,
    STATUS_UNRECOGNISED,
    TERMINATED,
    TERMINATED_ON,
    KIND,
    NAME,
    OGRN,
    REGISTERED_ON,
    AGE_MONTHS,
    UNRELIABLE_DATA,
    MASS_ADDRESS,
    MASS_DIRECTOR,
    TAX_ARREARS,
    TAX_ARREARS_RUB,
    NO_REPORTING,
];

pub(super) fn compute(facts: &mut Facts, usable: &[&SourceReport], now: DateTime<Utc>) {
    let first = |pick: &dyn Fn(&Findings) -> Option<Value>| {
        merge::first_stated(usable, pick).map_or_else(null, |(v, r)| from_report(r, v))
    };
    // A risk marker: `true` when any source says so, else what the first that spoke said.
    let any_true = |pick: &dyn Fn(&Findings) -> Option<bool>| {
        let said: Vec<(&SourceReport, bool)> = usable
            .iter()
            .filter_map(|r| pick(&r.findings).map(|b| (*r, b)))
            .collect();
        match said.iter().find(|(_, b)| *b).or(said.first()) {
            Some((r, b)) => from_report(r, json!(b)),
            None => null(),
        }
    };

    let known = usable.iter().find(|r| {
        matches!(r.status, SourceStatus::Ok | SourceStatus::Stale)
            || (r.status == SourceStatus::Unavailable && r.findings.status.is_some())
    });
    put(
        facts,
        &KNOWN,
        match known {
            Some(r) => from_report(r, json!(true)),
            None => computed(json!(false)),
        },
    );

    let worst = merge::worst_status(usable);
    let status = match worst {
        Some((s, r)) => from_report(r, json!(s.as_str())),
        None => computed(json!(CompanyStatus::Unknown.as_str())),
    };
    let terminated_on = first(&|f| f.terminated_on.map(|d| json!(d.to_string())));
    let terminated = match worst {
        Some((CompanyStatus::Liquidated, r)) => from_report(r, json!(true)),
        _ if !terminated_on.value.is_null() => Fact {
            value: json!(true),
            ..terminated_on.clone()
        },
        Some((_, r)) => from_report(r, json!(false)),
        None => null(),
    };
    put(facts, &STATUS, status);
    put(facts, &TERMINATED, terminated);
    put(facts, &TERMINATED_ON, terminated_on);
    put(
        facts,
        &STATUS_TEXT,
        match worst {
            Some((_, r)) => r
                .findings
                .status_text
                .as_ref()
                .map_or_else(null, |text| from_report(r, json!(text))),
            None => first(&|f| f.status_text.clone().map(Value::from)),
        },
    );
    put(
        facts,
        &STATUS_UNRECOGNISED,
        first(&|f| f.status_unrecognised.clone().map(Value::from)),
    );
    put(facts, &KIND, first(&|f| f.kind.map(|k| json!(k.as_str()))));
    put(facts, &NAME, first(&|f| f.name.clone().map(Value::from)));
    put(facts, &OGRN, first(&|f| f.ogrn.clone().map(Value::from)));
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
    put(facts, &REGISTERED_ON, registered);
    put(facts, &AGE_MONTHS, age);
    put(facts, &UNRELIABLE_DATA, any_true(&|f| f.unreliable_data));
    put(facts, &MASS_ADDRESS, any_true(&|f| f.mass_address));
    put(facts, &MASS_DIRECTOR, any_true(&|f| f.mass_director));
    put(facts, &TAX_ARREARS, any_true(&|f| f.tax_arrears));
    put(facts, &NO_REPORTING, any_true(&|f| f.no_reporting));
    put(
        facts,
        &TAX_ARREARS_RUB,
        first(&|f| f.tax_arrears_rub.map(Value::from)),
    );
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

#[cfg(test)]
mod tests {
    use super::super::compute;
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
    fn the_status_words_come_from_the_registry_that_gave_the_status() {
        let pb = report(
            "pb",
            SourceStatus::Ok,
            Findings {
                status: Some(CompanyStatus::Active),
                status_text: Some("Действующая организация".into()),
                ..Default::default()
            },
        );
        let fedresurs = report(
            "fedresurs",
            SourceStatus::Ok,
            Findings {
                status: Some(CompanyStatus::Bankruptcy),
                ..Default::default()
            },
        );
        let facts = compute(&[pb.clone(), fedresurs], &[], Utc::now());
        assert_eq!(facts["company.status"].value, json!("BANKRUPTCY"));
        assert_eq!(
            facts["company.status_text"].value,
            Value::Null,
            "pb's «Действующая» would contradict the status"
        );
        let facts = compute(&[pb], &[], Utc::now());
        assert_eq!(
            facts["company.status_text"].value,
            json!("Действующая организация")
        );
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

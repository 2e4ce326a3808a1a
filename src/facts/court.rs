//! Arbitration court cases (kad).

use super::{FactDef, Facts, from_report, null, put};
use crate::sources::{CourtFindings, SourceReport};
use serde_json::{Value, json};
use std::borrow::Cow;

pub(super) const RESPONDENT_CASES_TOTAL: FactDef = FactDef {
    name: Cow::Borrowed("court.respondent_cases_total"),
    kind: "int",
    unit: "cases",
    source: "kad",
    description: "Arbitration cases with the company as respondent, all time.",
    example: "12",
};

pub(super) const RESPONDENT_CASES_12M: FactDef = FactDef {
    name: Cow::Borrowed("court.respondent_cases_12m"),
    kind: "int",
    unit: "cases",
    source: "kad",
    description: "Cases as respondent filed in the last 12 months.",
    example: "3",
};

pub(super) const PLAINTIFF_CASES_TOTAL: FactDef = FactDef {
    name: Cow::Borrowed("court.plaintiff_cases_total"),
    kind: "int",
    unit: "cases",
    source: "kad",
    description: "Cases with the company as plaintiff.",
    example: "5",
};

pub(super) const BANKRUPTCY_CASES_AS_DEBTOR: FactDef = FactDef {
    name: Cow::Borrowed("court.bankruptcy_cases_as_debtor"),
    kind: "int",
    unit: "cases",
    source: "kad",
    description: "Bankruptcy cases (class Б) with the company as respondent, i.e. debtor.",
    example: "0",
};

pub(super) const CASES: FactDef = FactDef {
    name: Cow::Borrowed("court.cases"),
    kind: "list<map>",
    unit: "",
    source: "kad",
    description: "The most recent cases read: number, filed_on, kind (civil, civil_simple, administrative, bankruptcy, other), role (respondent, plaintiff, third_party, unknown), court, link.",
    example: "[]",
};

/// In the order `rules/FACTS.md` lists them.
pub(super) const DEFINED: &[FactDef] = &[
    RESPONDENT_CASES_TOTAL,
    RESPONDENT_CASES_12M,
    PLAINTIFF_CASES_TOTAL,
    BANKRUPTCY_CASES_AS_DEBTOR,
    CASES,
];

pub(super) fn compute(facts: &mut Facts, usable: &[&SourceReport]) {
    let court = usable
        .iter()
        .find_map(|r| r.findings.court.as_ref().map(|c| (c, *r)));
    let count = |pick: fn(&CourtFindings) -> u64| match court {
        Some((c, r)) => from_report(r, json!(pick(c))),
        None => null(),
    };
    put(
        facts,
        &RESPONDENT_CASES_TOTAL,
        count(|c| c.respondent_total),
    );
    put(facts, &RESPONDENT_CASES_12M, count(|c| c.respondent_12m));
    put(facts, &PLAINTIFF_CASES_TOTAL, count(|c| c.plaintiff_total));
    put(
        facts,
        &BANKRUPTCY_CASES_AS_DEBTOR,
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
    put(facts, &CASES, cases);
}

//! Bankruptcy, reorganization and liquidation: the case itself (fedresurs, bankrot) and
//! the dated notices published on fedresurs.

use super::{FactDef, Facts, from_report, null, put};
use crate::sources::{Findings, SourceReport, Topic};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::json;
use std::borrow::Cow;

/// A creditor's intention older than this no longer counts as recent.
pub const CREDITOR_INTENT_WINDOW_DAYS: i64 = 183;
/// Debtor's intentions, reorganization and liquidation notices count for this long.
pub const NOTICE_WINDOW_DAYS: i64 = 365;

pub(super) const ACTIVE: FactDef = FactDef {
    name: Cow::Borrowed("bankruptcy.active"),
    kind: "bool",
    unit: "",
    source: "fedresurs, bankrot",
    description: "A bankruptcy procedure is under way (a registry's status, an open case, or an active entry in the bankrupt list).",
    example: "false",
};

pub(super) const STAGE: FactDef = FactDef {
    name: Cow::Borrowed("bankruptcy.stage"),
    kind: "string",
    unit: "",
    source: "fedresurs, bankrot",
    description: "The procedure's stage in the registry's words.",
    example: "\"Наблюдение\"",
};

pub(super) const CASE_NUMBER: FactDef = FactDef {
    name: Cow::Borrowed("bankruptcy.case_number"),
    kind: "string",
    unit: "",
    source: "fedresurs, bankrot",
    description: "The bankruptcy case number.",
    example: "\"А40-123456/2025\"",
};

pub(super) const CREDITOR_INTENT_RECENT: FactDef = FactDef {
    name: Cow::Borrowed("bankruptcy.creditor_intent_recent"),
    kind: "bool",
    unit: "",
    source: "fedresurs",
    description: "A creditor published an intention to file for the company's bankruptcy in the last 183 days (only messages where the company is a participant and not the publisher count).",
    example: "false",
};

pub(super) const CREDITOR_INTENT_DAYS_AGO: FactDef = FactDef {
    name: Cow::Borrowed("bankruptcy.creditor_intent_days_ago"),
    kind: "int",
    unit: "days",
    source: "fedresurs",
    description: "Days since the latest such creditor's intention; null when there is none.",
    example: "40",
};

pub(super) const DEBTOR_INTENT: FactDef = FactDef {
    name: Cow::Borrowed("bankruptcy.debtor_intent"),
    kind: "bool",
    unit: "",
    source: "fedresurs",
    description: "The company itself published an intention to file for its own bankruptcy in the last 365 days.",
    example: "false",
};

pub(super) const REORGANIZATION_NOTICE_RECENT: FactDef = FactDef {
    name: Cow::Borrowed("reorganization.notice_recent"),
    kind: "bool",
    unit: "",
    source: "fedresurs",
    description: "A reorganization notice naming the company in the last 365 days.",
    example: "false",
};

pub(super) const LIQUIDATION_NOTICE: FactDef = FactDef {
    name: Cow::Borrowed("liquidation.notice"),
    kind: "bool",
    unit: "",
    source: "fedresurs",
    description: "The company published a liquidation decision in the last 365 days.",
    example: "false",
};

pub(super) const PUBLICATIONS_TRUNCATED: FactDef = FactDef {
    name: Cow::Borrowed("notices.publications_truncated"),
    kind: "bool",
    unit: "",
    source: "fedresurs",
    description: "The company has more fedresurs messages than were read (`sources.fedresurs.max_pages` pages, newest first): older notices may be missing. Null when no notices source answered.",
    example: "false",
};

/// In the order `rules/FACTS.md` lists them.
pub(super) const DEFINED: &[FactDef] = &[
    ACTIVE,
    STAGE,
    CASE_NUMBER,
    CREDITOR_INTENT_RECENT,
    CREDITOR_INTENT_DAYS_AGO,
    DEBTOR_INTENT,
    REORGANIZATION_NOTICE_RECENT,
    LIQUIDATION_NOTICE,
    PUBLICATIONS_TRUNCATED,
];

pub(super) fn compute(facts: &mut Facts, usable: &[&SourceReport], now: DateTime<Utc>) {
    let today = now.date_naive();
    // A checked source that covers bankruptcy and says nothing means "no case".
    let answered = checked_covering(usable, Topic::Bankruptcy);
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
    put(facts, &ACTIVE, active);
    let first_text = |pick: fn(&Findings) -> Option<String>| {
        usable
            .iter()
            .find_map(|r| pick(&r.findings).map(|v| from_report(r, json!(v))))
            .unwrap_or_else(null)
    };
    put(facts, &STAGE, first_text(|f| f.bankruptcy_stage.clone()));
    put(
        facts,
        &CASE_NUMBER,
        first_text(|f| f.bankruptcy_case_number.clone()),
    );

    let notices = checked_covering(usable, Topic::Notices);
    // A dated signal: recent when younger than the window; `false` when a notices source
    // answered without one; unknown when none did.
    let within = |pick: fn(&Findings) -> Option<NaiveDate>, window: i64| match newest(usable, pick)
    {
        Some((d, r)) => from_report(r, json!((today - d).num_days() <= window)),
        None => notices
            .map(|r| from_report(r, json!(false)))
            .unwrap_or_else(null),
    };
    put(
        facts,
        &CREDITOR_INTENT_RECENT,
        within(|f| f.creditor_intent_on, CREDITOR_INTENT_WINDOW_DAYS),
    );
    put(
        facts,
        &CREDITOR_INTENT_DAYS_AGO,
        newest(usable, |f| f.creditor_intent_on)
            .map(|(d, r)| from_report(r, json!((today - d).num_days())))
            .unwrap_or_else(null),
    );
    put(
        facts,
        &DEBTOR_INTENT,
        within(|f| f.debtor_intent_on, NOTICE_WINDOW_DAYS),
    );
    put(
        facts,
        &REORGANIZATION_NOTICE_RECENT,
        within(|f| f.reorganization_notice_on, NOTICE_WINDOW_DAYS),
    );
    put(
        facts,
        &LIQUIDATION_NOTICE,
        within(|f| f.liquidation_notice_on, NOTICE_WINDOW_DAYS),
    );
    let truncated = usable
        .iter()
        .find_map(|r| {
            r.findings
                .publications_truncated
                .map(|t| from_report(r, json!(t)))
        })
        .unwrap_or_else(null);
    put(facts, &PUBLICATIONS_TRUNCATED, truncated);
}

/// The first checked source that covers `topic` (its silence then means "no").
fn checked_covering<'a>(reports: &[&'a SourceReport], topic: Topic) -> Option<&'a SourceReport> {
    reports
        .iter()
        .copied()
        .find(|r| r.status.is_checked() && topic.covered_by(&r.source))
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

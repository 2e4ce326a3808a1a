//! The Check: what a check found and decided, as stored and as the API shows it.

use crate::domain::{CompanyStatus, Decision, EntityKind};
use crate::scoring::Reason;
use crate::sources::{CourtFindings, SourceReport, SourceStatus, merge};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum CheckState {
    Pending,
    Done,
    /// The check could not be completed (see `error`); it never stays `pending`.
    Failed,
}

/// How one source answered in this check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"status": "unavailable", "fetched_at": "2026-11-20T10:00:05Z", "detail": "captcha"}))]
pub struct SourceSummary {
    pub status: SourceStatus,
    /// When the answer was received (for `stale`, the stored answer's date).
    pub fetched_at: DateTime<Utc>,
    /// Why it is unavailable: `timeout`, `http_<code>`, `captcha`, `captcha_pause` (not asked:
    /// paused after a captcha), `blocked`, `cookie_expired`, `garbage`, `incomplete`,
    /// `too_large`, `network`, `circuit_open`, `throttled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "captcha")]
    pub detail: Option<String>,
}

/// What the registries say about the company.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = Company::example)]
pub struct Company {
    pub status: CompanyStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<EntityKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "ООО \"СЕВЕРНЫЙ ВЕТЕР\"")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "1027700123000")]
    pub ogrn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kpp: Option<String>,
    /// The registry's own words for the status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registered_on: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terminated_on: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// `"<ДОЛЖНОСТЬ>: <ФИО>"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head: Option<String>,
    /// A bankruptcy procedure is under way (fedresurs, bankrot).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bankruptcy_active: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "Наблюдение")]
    pub bankruptcy_stage: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bankruptcy_case_number: Option<String>,
    /// Latest creditor's intention to file for the company's bankruptcy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creditor_intent_on: Option<NaiveDate>,
    /// Latest intention of the company to file for its own bankruptcy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub debtor_intent_on: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reorganization_notice_on: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liquidation_notice_on: Option<NaiveDate>,
    /// Arbitration cases (kad).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub court: Option<CourtFindings>,
}

impl Company {
    /// Merges the sources' findings: the most severe status, otherwise the first source
    /// (in registration order) that states a field.
    pub fn from_reports(reports: &[SourceReport]) -> Company {
        let answers = merge::usable(reports);
        macro_rules! first {
            ($field:ident) => {
                merge::first_stated(&answers, |f| f.$field.clone()).map(|(v, _)| v)
            };
        }
        let usable: Vec<&crate::sources::Findings> = answers.iter().map(|r| &r.findings).collect();
        let worst = merge::worst_status(&answers);
        Company {
            status: worst.map_or(CompanyStatus::Unknown, |(s, _)| s),
            // The words of the registry that gave the status: another's could contradict it.
            status_text: match worst {
                Some((_, r)) => r.findings.status_text.clone(),
                None => first!(status_text),
            },
            kind: first!(kind),
            name: first!(name),
            full_name: first!(full_name),
            ogrn: first!(ogrn),
            kpp: first!(kpp),
            registered_on: first!(registered_on),
            terminated_on: first!(terminated_on),
            region: first!(region),
            address: first!(address),
            head: first!(head),
            bankruptcy_active: usable
                .iter()
                .find_map(|f| f.bankruptcy_active.filter(|a| *a))
                .or_else(|| first!(bankruptcy_active)),
            bankruptcy_stage: first!(bankruptcy_stage),
            bankruptcy_case_number: first!(bankruptcy_case_number),
            creditor_intent_on: usable.iter().filter_map(|f| f.creditor_intent_on).max(),
            debtor_intent_on: usable.iter().filter_map(|f| f.debtor_intent_on).max(),
            reorganization_notice_on: usable
                .iter()
                .filter_map(|f| f.reorganization_notice_on)
                .max(),
            liquidation_notice_on: usable.iter().filter_map(|f| f.liquidation_notice_on).max(),
            court: first!(court),
        }
    }
}

impl Company {
    /// The example the API documentation shows.
    pub fn example() -> serde_json::Value {
        serde_json::json!({"status": "ACTIVE", "kind": "legal_entity", "name": "ООО \"СЕВЕРНЫЙ ВЕТЕР\"",
        "full_name": "ОБЩЕСТВО С ОГРАНИЧЕННОЙ ОТВЕТСТВЕННОСТЬЮ \"СЕВЕРНЫЙ ВЕТЕР\"", "ogrn": "1027700123000",
        "kpp": "770101001", "status_text": "Действующее", "registered_on": "2015-03-12", "region": "Москва",
        "address": "г. Москва, ул. Тверская, д. 1", "head": "ГЕНЕРАЛЬНЫЙ ДИРЕКТОР: Иванов Иван Иванович",
        "bankruptcy_active": false,
        "court": {"respondent_total": 2, "respondent_12m": 1, "plaintiff_total": 0, "bankruptcy_as_debtor": 0, "cases": []}})
    }
}

impl Check {
    /// Where its printable report is, relative to the service (a key is needed there).
    pub fn report_path(&self) -> String {
        format!("/v1/checks/{}/report", self.id)
    }

    /// The link to its report that opens in a browser: the signed `report_url` it was made
    /// with (a check from before signed links has the bare path, which needs a key).
    pub fn report_link(&self) -> String {
        self.report_url
            .clone()
            .unwrap_or_else(|| self.report_path())
    }

    /// The check with its reasons in `to`.
    pub fn in_language(mut self, to: crate::domain::Language) -> Check {
        self.translate(to);
        self
    }

    /// Shows every reason in `to` where the rules have it; `rule_id` and `effect` stay.
    pub fn translate(&mut self, to: crate::domain::Language) {
        let Some(from) = self.language.filter(|l| *l != to) else {
            return;
        };
        for reason in &mut self.reasons {
            reason.translate(from, to);
        }
        self.language = Some(to);
    }

    /// A stored check's JSON in `to`: the same bytes, unparsed, when it already is (or has no
    /// language: pending); otherwise read, translated and written again.
    pub fn json_in(json: bytes::Bytes, to: crate::domain::Language) -> bytes::Bytes {
        const KEY: &[u8] = b"\"language\":\"";
        // Inside a JSON string a quote is escaped, so this sequence is only ever the key.
        let Some(at) = json.windows(KEY.len()).position(|w| w == KEY) else {
            return json;
        };
        let code = to.as_str().as_bytes();
        if json[at + KEY.len()..].starts_with(code) {
            return json;
        }
        match serde_json::from_slice::<Check>(&json) {
            Ok(mut check) => {
                check.translate(to);
                serde_json::to_vec(&check).map_or(json, bytes::Bytes::from)
            }
            Err(_) => json,
        }
    }

    /// A check still running, as a `202` shows it: no decision and no company yet.
    pub fn pending_example() -> serde_json::Value {
        serde_json::json!({"id": "0193a3c4-8f2e-7c1a-9b1e-5d2f3a4b5c6d", "inn": "7707083893", "state": "pending",
        "profile": "default", "requested_by": "website", "reasons": [], "sources": {},
        "report_url": "/v1/checks/0193a3c4-8f2e-7c1a-9b1e-5d2f3a4b5c6d/report",
        "created_at": "2026-11-20T10:00:00Z"})
    }

    /// The example the API documentation shows.
    pub fn example() -> serde_json::Value {
        serde_json::json!({"id": "0193a3c4-8f2e-7c1a-9b1e-5d2f3a4b5c6d", "inn": "7707083893", "state": "done", "decision": "approve",
        "score": 100, "profile": "default", "requested_by": "website", "language": "ru",
        "reasons": [{"rule_id": "court_cases_unchecked", "title": "Судебные дела не проверены", "effect": "score", "delta": 0,
        "message": "Судебные дела не проверены (kad.arbitr.ru: unavailable captcha)",
        "inputs": [{"fact": "sources.kad.status", "value": "unavailable"}, {"fact": "sources.kad.detail", "value": "captcha"}],
        "translations": {"en": {"title": "Court cases were not checked", "message": "Court cases not checked (kad.arbitr.ru: unavailable captcha)"}}}],
        "sources": {"egrul": {"status": "ok", "fetched_at": "2026-11-20T10:00:01Z"},
        "pb": {"status": "ok", "fetched_at": "2026-11-20T10:00:02Z"},
        "fedresurs": {"status": "not_found", "fetched_at": "2026-11-20T10:00:02Z"},
        "bankrot": {"status": "not_found", "fetched_at": "2026-11-20T10:00:02Z"},
        "kad": {"status": "unavailable", "fetched_at": "2026-11-20T10:00:05Z", "detail": "captcha"}},
        "company": Company::example(),
        "ruleset_version": "3a59f4cdaf8aee003911fe9a776bcb5e0fdf396fb77cf0fa143b17aeb8349929",
        "report_url": "/v1/checks/0193a3c4-8f2e-7c1a-9b1e-5d2f3a4b5c6d/report",
        "created_at": "2026-11-20T10:00:00Z", "checked_at": "2026-11-20T10:00:05Z"})
    }
}

/// A counterparty check. While `state` is `pending` only the identity fields are set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = Check::example)]
pub struct Check {
    pub id: Uuid,
    #[schema(example = "7707083893")]
    pub inn: String,
    pub state: CheckState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    /// Starts at the profile's base score; `score` rules add their deltas.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = 100)]
    pub score: Option<i64>,
    /// The scoring profile applied.
    #[schema(example = "default")]
    pub profile: String,
    /// Who asked: the API key's name, or `cli`, `monitoring`, `applications`, `bitrix24`,
    /// `amocrm`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "website")]
    pub requested_by: Option<String>,
    /// The language of `reasons[].title` and `message` (from `Accept-Language`, else
    /// `check.default_language`); the rules' other languages are in `reasons[].translations`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<crate::domain::Language>,
    /// Every rule that fired, with its rendered message and the facts it read.
    pub reasons: Vec<Reason>,
    /// Every implemented source and how it answered.
    pub sources: BTreeMap<String, SourceSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company: Option<Company>,
    /// SHA-256 of the ruleset file used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ruleset_version: Option<String>,
    pub created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checked_at: Option<DateTime<Utc>>,
    /// The printable report of this check (`GET` it; HTML, A4 print layout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "/v1/checks/0193a3c4-8f2e-7c1a-9b1e-5d2f3a4b5c6d/report")]
    pub report_url: Option<String>,
    /// Why a `failed` check failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "internal error")]
    pub error: Option<String>,
}

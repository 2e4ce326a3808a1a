//! What one source learned about a company, in the service's own terms.

use crate::domain::{CompanyStatus, EntityKind};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Facts one registry stated. `None` means "this source did not say", which is
/// different from `Some(false)`; it is left out of the JSON (snapshots and the in-memory
/// cache hold what was said, not forty nulls).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Findings {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<EntityKind>,
    /// Short name (ЮЛ) or ФИО (ИП).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ogrn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kpp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// `"<ДОЛЖНОСТЬ>: <ФИО>"` of the head.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub okved: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registered_on: Option<NaiveDate>,
    /// Present only when the company has ceased to exist.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terminated_on: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<CompanyStatus>,
    /// The registry's own words for the status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_since: Option<NaiveDate>,
    /// A status text the service could not classify (must be looked at by a person).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_unrecognised: Option<String>,
    /// ЕГРЮЛ marks some of the company's data as unreliable (недостоверность).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreliable_data: Option<bool>,
    /// Other entities are registered at the same address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mass_address: Option<bool>,
    /// The head or a founder is a "mass" person or marked unreliable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mass_director: Option<bool>,
    /// Tax debt over 1000 ₽.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax_arrears: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax_arrears_rub: Option<f64>,
    /// No tax reporting for more than a year.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_reporting: Option<bool>,

    // ── Bankruptcy and notices (fedresurs, bankrot) ──
    /// A bankruptcy procedure is under way.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bankruptcy_active: Option<bool>,
    /// The procedure's stage in the registry's words («Наблюдение», «Конкурсное производство»).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bankruptcy_stage: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bankruptcy_case_number: Option<String>,
    /// Latest creditor's intention to file for the company's bankruptcy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creditor_intent_on: Option<NaiveDate>,
    /// Latest intention of the company itself to file for its bankruptcy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub debtor_intent_on: Option<NaiveDate>,
    /// Latest reorganization notice (any role).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reorganization_notice_on: Option<NaiveDate>,
    /// Latest liquidation decision the company published.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liquidation_notice_on: Option<NaiveDate>,
    /// Messages whose publisher is unknown, so the company's role cannot be decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_unclear_messages: Option<u32>,
    /// More messages exist than were read (the oldest were left unread).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publications_truncated: Option<bool>,

    // ── Court cases (kad) ──
    #[serde(skip_serializing_if = "Option::is_none")]
    pub court: Option<CourtFindings>,
}

/// Arbitration cases of the company (kad.arbitr.ru).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({
    "respondent_total": 37, "respondent_12m": 14, "plaintiff_total": 3, "bankruptcy_as_debtor": 0,
    "cases": [{"number": "А40-2001/2026", "link": "https://kad.arbitr.ru/Card/1a2b3c4d-0000-4000-8000-000000000001",
               "filed_on": "2026-11-14", "kind": "civil", "role": "respondent", "court": "АС города Москвы", "judge": null}]
}))]
pub struct CourtFindings {
    /// All cases with the company as respondent (the court's own total).
    pub respondent_total: u64,
    /// Cases as respondent filed in the last 12 months.
    pub respondent_12m: u64,
    pub plaintiff_total: u64,
    /// Bankruptcy cases (class «Б») with the company as respondent, i.e. debtor.
    pub bankruptcy_as_debtor: u64,
    /// The most recent cases read (as respondent, then as plaintiff).
    pub cases: Vec<CourtCase>,
}

/// One arbitration case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"number": "А40-123456/2025", "link": "https://kad.arbitr.ru/Card/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0",
    "filed_on": "2025-06-02", "kind": "civil", "role": "respondent", "court": "АС города Москвы", "judge": "Петров П. П."}))]
pub struct CourtCase {
    #[schema(example = "А40-123456/2025")]
    pub number: String,
    /// The case card on kad.arbitr.ru.
    pub link: Option<String>,
    pub filed_on: Option<NaiveDate>,
    /// `civil`, `civil_simple`, `administrative`, `bankruptcy` or `other`.
    #[schema(example = "civil")]
    pub kind: String,
    /// The company's role: `respondent`, `plaintiff`, `third_party` or `unknown`.
    #[schema(example = "respondent")]
    pub role: String,
    pub court: Option<String>,
    pub judge: Option<String>,
}

impl Findings {
    /// Records a status, keeping the more severe one when the source states two
    /// (e.g. a search row and a card).
    pub fn raise_status(&mut self, status: CompanyStatus) {
        self.status = Some(self.status.map_or(status, |s| s.max(status)));
    }

    /// Adds the risks `other` saw to these findings (a stored answer used when a live call
    /// failed after seeing something): statuses by precedence, risk flags by "any".
    pub fn absorb_risks(&mut self, other: &Findings) {
        if let Some(s) = other.status {
            self.raise_status(s);
        }
        let any = |a: &mut Option<bool>, b: Option<bool>| {
            if b == Some(true) {
                *a = Some(true);
            }
        };
        any(&mut self.unreliable_data, other.unreliable_data);
        any(&mut self.mass_address, other.mass_address);
        any(&mut self.mass_director, other.mass_director);
        any(&mut self.tax_arrears, other.tax_arrears);
        any(&mut self.no_reporting, other.no_reporting);
        any(&mut self.bankruptcy_active, other.bankruptcy_active);
        let latest = |a: &mut Option<NaiveDate>, b: Option<NaiveDate>| {
            if b > *a {
                *a = b;
            }
        };
        latest(&mut self.creditor_intent_on, other.creditor_intent_on);
        latest(&mut self.debtor_intent_on, other.debtor_intent_on);
        latest(
            &mut self.reorganization_notice_on,
            other.reorganization_notice_on,
        );
        latest(&mut self.liquidation_notice_on, other.liquidation_notice_on);
    }

    /// Classifies a registry's status text and records it; unrecognised text is kept
    /// as such so the rules can send it to a person.
    pub fn status_from_text(&mut self, text: &str) {
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        self.status_text = Some(text.to_owned());
        match CompanyStatus::classify_text(text) {
            Some(s) => self.raise_status(s),
            None => self.status_unrecognised = Some(text.to_owned()),
        }
    }
}

/// How the sources' findings merge, for the facts and for the company card alike: an
/// answer counts unless its source is switched off (an unavailable one keeps what it
/// parsed before failing, so a known risk still counts); a field comes from the first
/// answer, in registry order, that states it; the status is the most severe any states.
pub mod merge {
    use super::Findings;
    use crate::domain::CompanyStatus;
    use crate::sources::{SourceReport, SourceStatus};

    /// The answers that count.
    pub fn usable(reports: &[SourceReport]) -> Vec<&SourceReport> {
        reports
            .iter()
            .filter(|r| r.status != SourceStatus::Disabled)
            .collect()
    }

    /// The first answer that states a field, with that answer.
    pub fn first_stated<'a, T>(
        usable: &[&'a SourceReport],
        pick: impl Fn(&Findings) -> Option<T>,
    ) -> Option<(T, &'a SourceReport)> {
        usable
            .iter()
            .find_map(|r| pick(&r.findings).map(|v| (v, *r)))
    }

    /// The most severe status any answer states, with that answer (the first of equals).
    pub fn worst_status<'a>(
        usable: &[&'a SourceReport],
    ) -> Option<(CompanyStatus, &'a SourceReport)> {
        usable
            .iter()
            .filter_map(|r| r.findings.status.map(|s| (s, *r)))
            .reduce(|best, next| if next.0 > best.0 { next } else { best })
    }
}

//! What one source learned about a company, in the service's own terms.

use crate::domain::{CompanyStatus, EntityKind};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Facts one registry stated. `None` means "this source did not say", which is
/// different from `Some(false)`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Findings {
    pub kind: Option<EntityKind>,
    /// Short name (ЮЛ) or ФИО (ИП).
    pub name: Option<String>,
    pub full_name: Option<String>,
    pub ogrn: Option<String>,
    pub kpp: Option<String>,
    pub region: Option<String>,
    pub address: Option<String>,
    /// `"<ДОЛЖНОСТЬ>: <ФИО>"` of the head.
    pub head: Option<String>,
    pub okved: Option<String>,
    pub registered_on: Option<NaiveDate>,
    /// Present only when the company has ceased to exist.
    pub terminated_on: Option<NaiveDate>,
    pub status: Option<CompanyStatus>,
    /// The registry's own words for the status.
    pub status_text: Option<String>,
    pub status_since: Option<NaiveDate>,
    /// A status text the service could not classify (must be looked at by a person).
    pub status_unrecognised: Option<String>,
    /// ЕГРЮЛ marks some of the company's data as unreliable (недостоверность).
    pub unreliable_data: Option<bool>,
    /// Other entities are registered at the same address.
    pub mass_address: Option<bool>,
    /// The head or a founder is a "mass" person or marked unreliable.
    pub mass_director: Option<bool>,
    /// Tax debt over 1000 ₽.
    pub tax_arrears: Option<bool>,
    pub tax_arrears_rub: Option<f64>,
    /// No tax reporting for more than a year.
    pub no_reporting: Option<bool>,
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

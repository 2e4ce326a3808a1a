//! The verdict of a check as a CRM shows it to people: in Russian, one block of text.

use crate::check::Check;
use crate::domain::Language;

/// The reasons, one per line; "нет замечаний" when there are none.
pub fn reasons_text(check: &Check) -> String {
    if check.reasons.is_empty() {
        return "нет замечаний".into();
    }
    check
        .reasons
        .iter()
        .map(|r| format!("{}: {}", r.title, r.message))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Why a check could not be made, as a CRM shows it: in Russian (the texts' catalogue).
pub fn failure_text(e: &dyn std::fmt::Display) -> String {
    crate::texts::in_language(&e.to_string(), Language::Ru)
}

pub fn verdict(check: &Check) -> &'static str {
    crate::human::verdict(check.decision, Language::Ru)
}

pub fn log_line(check: &Check) -> String {
    format!(
        "kontragent: ИНН {} — {} ({})",
        check.inn,
        verdict(check),
        crate::human::score_line(check, Language::Ru)
    )
}

pub fn comment(check: &Check, public_url: &str) -> String {
    format!(
        "Проверка контрагента (ИНН {}): {}, {}\n{}\nСправка: {public_url}{}",
        check.inn,
        verdict(check),
        crate::human::score_line(check, Language::Ru),
        reasons_text(check),
        check.report_link()
    )
}

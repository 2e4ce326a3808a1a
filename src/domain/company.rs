//! The company status vocabulary shared by every source (registries.md §13).

use serde::{Deserialize, Serialize};

/// Legal entity (ЮЛ) or individual entrepreneur (ИП).
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
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum EntityKind {
    LegalEntity,
    Entrepreneur,
}

impl EntityKind {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// The normalized state of a company. Declared in order of precedence, lowest first:
/// when sources disagree the highest wins, so a source that knows less never
/// downgrades a risk another source saw.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum CompanyStatus {
    /// No registry knows the INN.
    Unknown,
    Active,
    /// Reorganization in which the company survives (ЕГРЮЛ 121–139 except 124, 129).
    ReorganizingContinues,
    /// Reorganization in which the company ceases, e.g. being absorbed (124, 129).
    ReorganizingCeases,
    /// The tax service decided to exclude the company from the register (105–108, 110).
    ExclusionPending,
    /// Liquidation under way (101).
    Liquidating,
    /// A bankruptcy procedure is under way (113–117).
    Bankruptcy,
    /// The company has ceased to exist.
    Liquidated,
}

/// Words (lower case, prefixes) that say a procedure ended.
const ENDED_WORDS: &[&str] = &["заверш", "прекращ"];
/// Words of a bankruptcy under way: the procedure or one of its stages.
const BANKRUPTCY_WORDS: &[&str] = &[
    "банкрот",
    "несостоятельн",
    "конкурсное производство",
    "наблюдение",
    "внешнее управление",
    "финансовое оздоровление",
    "реструктуризация долгов",
    "реализация имущества",
];
const ACTIVE_WORDS: &[&str] = &["действующ"];

fn contains_any(text: &str, words: &[&str]) -> bool {
    let t = text.to_lowercase();
    words.iter().any(|w| t.contains(w))
}

/// Where a bankruptcy case stands, read from its registry status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Procedure {
    /// Observation, financial recovery, external management, competitive proceedings,
    /// realization of property or debt restructuring.
    Running,
    /// Stopped, finished, completed or terminated.
    Ended,
    /// A code (or, without a code, words) the service does not know: never read as clean.
    Unrecognised,
}

/// Parts of fedresurs' `status.code` values (lower case, without `_`) that mean the case
/// ended. Seen live: `ProceedingsStopped`, `ProceedingsFinished`, `Completed` (§16).
const ENDED_CODE_PARTS: &[&str] = &["stopped", "finished", "completed", "terminated", "closed"];
/// Parts of codes of a running procedure. Seen live: `Watching` (наблюдение), `Tender`
/// (конкурсное производство); the others are the remaining stages of the law.
const RUNNING_CODE_PARTS: &[&str] = &[
    "watching",
    "observation",
    "supervision",
    "financialrecovery",
    "rehabilitation",
    "externalmanagement",
    "externaladministration",
    "tender",
    "competitive",
    "realization",
    "realisation",
    "propertysale",
    "restructuring",
];

impl Procedure {
    /// Decides from the code where there is one; from the words only without a code.
    pub fn from_status(code: Option<&str>, words: Option<&str>) -> Procedure {
        if let Some(code) = code.map(str::trim).filter(|c| !c.is_empty()) {
            let code = code.to_lowercase().replace(['_', '-', ' '], "");
            return if ENDED_CODE_PARTS.iter().any(|p| code.contains(p)) {
                Procedure::Ended
            } else if RUNNING_CODE_PARTS.iter().any(|p| code.contains(p)) {
                Procedure::Running
            } else {
                Procedure::Unrecognised
            };
        }
        match words.map(str::trim).filter(|w| !w.is_empty()) {
            Some(w) if CompanyStatus::says_procedure_ended(w) => Procedure::Ended,
            Some(w) if CompanyStatus::says_bankruptcy(w) => Procedure::Running,
            _ => Procedure::Unrecognised,
        }
    }
}

impl CompanyStatus {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Maps a numeric ЕГРЮЛ status code (СЮЛСТ) to the vocabulary.
    pub fn from_egrul_code(code: u32) -> Option<CompanyStatus> {
        use CompanyStatus::*;
        Some(match code {
            101 => Liquidating,
            105..=108 | 110 => ExclusionPending,
            111 | 112 => Active,
            113..=117 => Bankruptcy,
            124 | 129 => ReorganizingCeases,
            121..=139 => ReorganizingContinues,
            103 | 104 | 201..=209 | 301..=320 | 400..=415 | 501 | 502 => Liquidated,
            601 | 602 | 701 | 702 | 801 | 802 => Liquidated,
            _ => return None,
        })
    }

    /// The text says a procedure ended («завершено», «прекращено»). Every registry's text
    /// is read with this one list, and it takes precedence over the stage words.
    pub fn says_procedure_ended(text: &str) -> bool {
        contains_any(text, ENDED_WORDS)
    }

    /// The text names a bankruptcy stage («наблюдение», «конкурсное производство»…).
    pub fn says_bankruptcy(text: &str) -> bool {
        contains_any(text, BANKRUPTCY_WORDS)
    }

    /// The text says the company operates («действующее»).
    pub fn says_active(text: &str) -> bool {
        contains_any(text, ACTIVE_WORDS)
    }

    /// Classifies a registry's free-text status (PB `НаимСтатусЮЛ`, `sulst_name_ex`,
    /// fedresurs `status`). Words that say something ended take precedence over stage
    /// words. `None` means the text is not recognised: the caller must not treat that as clean.
    pub fn classify_text(text: &str) -> Option<CompanyStatus> {
        use CompanyStatus::*;
        let t = text.to_lowercase();
        let has = |words: &[&str]| words.iter().any(|w| t.contains(w));
        if t.trim().is_empty() {
            return None;
        }
        if has(&[
            "прекратил",
            "прекращение деятельности",
            "исключен из",
            "ликвидирован",
            "недействующ",
        ]) && !has(&["предстоящ"])
        {
            return Some(Liquidated);
        }
        if has(ENDED_WORDS) {
            // A procedure that ended («производство по делу прекращено», «завершено»)
            // says nothing bad about the present state by itself.
            return Some(Active);
        }
        if has(BANKRUPTCY_WORDS) {
            return Some(Bankruptcy);
        }
        if has(&["предстоящ", "исключени"]) {
            return Some(ExclusionPending);
        }
        if has(&["ликвидац"]) {
            return Some(Liquidating);
        }
        if has(&["реорганизац"]) {
            if has(&[
                "присоединения к другому",
                "к другому юридическому",
                "слияни",
            ]) {
                return Some(ReorganizingCeases);
            }
            return Some(ReorganizingContinues);
        }
        if has(ACTIVE_WORDS) {
            return Some(Active);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::CompanyStatus::{self, *};

    #[test]
    fn classifies_registry_texts() {
        let cases = [
            ("Действующая организация", Active),
            ("Действующее", Active),
            ("В отношении ЮЛ введено наблюдение", Bankruptcy),
            ("В отношении ЮЛ открыто конкурсное производство", Bankruptcy),
            ("Процесс банкротства", Bankruptcy),
            ("Находится в стадии ликвидации", Liquidating),
            (
                "Юридическое лицо находится в процессе реорганизации в форме присоединения к другому юридическому лицу",
                ReorganizingCeases,
            ),
            (
                "Юридическое лицо находится в процессе реорганизации в форме преобразования",
                ReorganizingContinues,
            ),
            (
                "Регистрирующим органом принято решение о предстоящем исключении недействующего юридического лица из ЕГРЮЛ",
                ExclusionPending,
            ),
            ("Прекратило деятельность в связи с ликвидацией", Liquidated),
            ("Производство по делу о банкротстве завершено", Active),
            ("Производство по делу о банкротстве прекращено", Active),
        ];
        for (text, want) in cases {
            assert_eq!(CompanyStatus::classify_text(text), Some(want), "{text}");
        }
        assert_eq!(CompanyStatus::classify_text("что-то новое"), None);
    }

    #[test]
    fn a_procedure_is_decided_by_its_code_and_by_words_only_without_one() {
        use super::Procedure::{self, *};
        for (code, want) in [
            ("Watching", Running),
            ("Observation", Running),
            ("Tender", Running),
            ("FinancialRecovery", Running),
            ("ExternalManagement", Running),
            ("RealizationOfProperty", Running),
            ("ProceedingsStopped", Ended),
            ("ProceedingsFinished", Ended),
            ("Completed", Ended),
            ("Terminated", Ended),
            ("SomethingNew", Unrecognised),
        ] {
            // The words are ignored when a code is present, even when they disagree.
            assert_eq!(
                Procedure::from_status(Some(code), Some("Наблюдение")),
                want,
                "{code}"
            );
        }
        assert_eq!(
            Procedure::from_status(None, Some("Конкурсное производство")),
            Running
        );
        assert_eq!(
            Procedure::from_status(Some(""), Some("Производство по делу прекращено")),
            Ended
        );
        assert_eq!(Procedure::from_status(None, Some("Иное")), Unrecognised);
        assert_eq!(Procedure::from_status(None, None), Unrecognised);
    }

    #[test]
    fn maps_egrul_codes() {
        assert_eq!(CompanyStatus::from_egrul_code(101), Some(Liquidating));
        assert_eq!(CompanyStatus::from_egrul_code(114), Some(Bankruptcy));
        assert_eq!(
            CompanyStatus::from_egrul_code(124),
            Some(ReorganizingCeases)
        );
        assert_eq!(
            CompanyStatus::from_egrul_code(123),
            Some(ReorganizingContinues)
        );
        assert_eq!(CompanyStatus::from_egrul_code(407), Some(Liquidated));
        assert_eq!(CompanyStatus::from_egrul_code(999), None);
    }

    #[test]
    fn precedence_puts_liquidated_above_bankruptcy_above_liquidating() {
        assert!(Liquidated > Bankruptcy);
        assert!(Bankruptcy > Liquidating);
        assert!(Liquidating > ReorganizingCeases);
        assert!(ReorganizingContinues > Active);
        assert!(Active > Unknown);
    }
}

//! How a check reads to people — the CLI, the printable report, e-mails and CRM notes — in
//! their language: decision words, registry statuses with their reasons, times in the
//! display zone, and a score that never seems to contradict the decision. The API itself
//! keeps its codes and UTC.

use crate::check::{Check, SourceSummary};
use crate::domain::{CompanyStatus, Decision, Language};
use crate::sources::SourceStatus;
use chrono::{DateTime, Utc};

/// The decision as a verdict word («ОДОБРЕНО»); `None` is a check without a decision.
pub fn verdict(decision: Option<Decision>, language: Language) -> &'static str {
    use Decision::*;
    match (language, decision) {
        (Language::Ru, Some(Approve)) => "ОДОБРЕНО",
        (Language::Ru, Some(Review)) => "НА ПРОВЕРКУ",
        (Language::Ru, Some(Reject)) => "ОТКЛОНЕНО",
        (Language::Ru, None) => "НЕТ РЕШЕНИЯ",
        (Language::En, Some(Approve)) => "APPROVE",
        (Language::En, Some(Review)) => "REVIEW",
        (Language::En, Some(Reject)) => "REJECT",
        (Language::En, None) => "NO DECISION",
    }
}

/// The decision as an action in a sentence («на ручную проверку»).
pub fn decision_words(decision: Option<Decision>, language: Language) -> &'static str {
    use Decision::*;
    match (language, decision) {
        (Language::Ru, Some(Approve)) => "одобрить",
        (Language::Ru, Some(Review)) => "на ручную проверку",
        (Language::Ru, Some(Reject)) => "отклонить",
        (Language::Ru, None) => "нет решения",
        (Language::En, Some(Approve)) => "approve",
        (Language::En, Some(Review)) => "review",
        (Language::En, Some(Reject)) => "reject",
        (Language::En, None) => "no decision",
    }
}

/// The score, and when a `reject` or `review` rule decided instead of the score band,
/// that it did: «балл 100, решение задало правило отклонения».
pub fn score_line(check: &Check, language: Language) -> String {
    let score = check.score.unwrap_or_default();
    let number = match language {
        Language::Ru => format!("балл {score}"),
        Language::En => format!("score {score}"),
    };
    match override_line(check, language) {
        Some(rule) => format!("{number}, {rule}"),
        None => number,
    }
}

/// That a `reject` or `review` rule decided instead of the score band, and which:
/// «решение задало правило отклонения (bankruptcy_stage)»; `None` when the score did.
pub fn override_line(check: &Check, language: Language) -> Option<String> {
    let decision = check.decision.filter(|d| *d != Decision::Approve)?;
    let ids: Vec<&str> = check
        .reasons
        .iter()
        .filter(|r| r.effect == decision.as_str())
        .map(|r| r.rule_id.as_str())
        .collect();
    if ids.is_empty() {
        return None;
    }
    let ids = ids.join(", ");
    Some(match (language, decision) {
        (Language::Ru, Decision::Reject) => format!("решение задало правило отклонения ({ids})"),
        (Language::Ru, _) => format!("решение задало правило ручной проверки ({ids})"),
        (Language::En, d) => format!("overridden by a {} rule ({ids})", d.as_str()),
    })
}

/// A registry's status with its reason: «недоступен: капча».
pub fn source_status(summary: &SourceSummary, language: Language) -> String {
    let status = match (language, summary.status) {
        (Language::Ru, SourceStatus::Ok) => "проверено, записи есть",
        (Language::Ru, SourceStatus::NotFound) => "проверено, записей нет",
        (Language::Ru, SourceStatus::Unavailable) => "недоступен",
        (Language::Ru, SourceStatus::Stale) => "прежний ответ",
        (Language::Ru, SourceStatus::Disabled) => "отключён",
        (Language::En, SourceStatus::Ok) => "checked, has records",
        (Language::En, SourceStatus::NotFound) => "checked, no records",
        (Language::En, SourceStatus::Unavailable) => "unavailable",
        (Language::En, SourceStatus::Stale) => "an earlier answer",
        (Language::En, SourceStatus::Disabled) => "disabled",
    };
    match summary.detail.as_deref() {
        Some(detail) => format!("{status}: {}", detail_words(detail, language)),
        None => status.to_owned(),
    }
}

/// Why a registry was unavailable, in words; an unknown code is shown as it is.
pub fn detail_words(detail: &str, language: Language) -> String {
    let ru = match detail {
        "timeout" => "нет ответа вовремя",
        "captcha" => "капча",
        "captcha_pause" => "пауза после капчи",
        "blocked" => "доступ заблокирован",
        "cookie_expired" => "истёк cookie",
        "garbage" => "непонятный ответ",
        "incomplete" => "ответ неполный",
        "too_large" => "слишком большой ответ",
        "network" => "ошибка сети",
        "circuit_open" => "временно не опрашивается после сбоев",
        "throttled" => "исчерпан лимит запросов",
        other => {
            return match (other.strip_prefix("http_"), language) {
                (Some(code), Language::Ru) => format!("ошибка HTTP {code}"),
                (Some(code), Language::En) => format!("HTTP {code}"),
                (None, _) => other.to_owned(),
            };
        }
    };
    match language {
        Language::Ru => ru.to_owned(),
        Language::En => detail.replace('_', " "),
    }
}

/// A company status in words.
pub fn company_status(status: CompanyStatus, language: Language) -> &'static str {
    use CompanyStatus::*;
    match (language, status) {
        (Language::Ru, Unknown) => "неизвестен",
        (Language::Ru, Active) => "действующая",
        (Language::Ru, ReorganizingContinues | ReorganizingCeases) => "реорганизация",
        (Language::Ru, ExclusionPending) => "предстоит исключение из ЕГРЮЛ",
        (Language::Ru, Liquidating) => "ликвидация",
        (Language::Ru, Bankruptcy) => "банкротство",
        (Language::Ru, Liquidated) => "прекратила деятельность",
        (Language::En, Unknown) => "unknown",
        (Language::En, Active) => "active",
        (Language::En, ReorganizingContinues | ReorganizingCeases) => "reorganizing",
        (Language::En, ExclusionPending) => "exclusion pending",
        (Language::En, Liquidating) => "liquidating",
        (Language::En, Bankruptcy) => "bankruptcy",
        (Language::En, Liquidated) => "ceased",
    }
}

pub use crate::domain::value_text as value;

/// A date as Russians write it: «12.03.2015».
pub fn date(on: chrono::NaiveDate) -> String {
    on.format("%d.%m.%Y").to_string()
}

/// A moment in the display zone: «01.12.2026 19:31 MSK».
pub fn time(at: DateTime<Utc>, zone: chrono_tz::Tz) -> String {
    at.with_timezone(&zone)
        .format("%d.%m.%Y %H:%M %Z")
        .to_string()
}

/// The whole verdict for a terminal: the decision, the company, every reason, every
/// registry, the ruleset.
pub fn verdict_text(check: &Check, language: Language, zone: chrono_tz::Tz) -> String {
    use std::fmt::Write;
    let ru = language == Language::Ru;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}  {} {}  {}",
        verdict(check.decision, language),
        if ru { "ИНН" } else { "INN" },
        check.inn,
        score_line(check, language)
    );
    if let Some(c) = &check.company {
        let unknown = if ru {
            "(название неизвестно)"
        } else {
            "(name unknown)"
        };
        let _ = writeln!(
            out,
            "  {} — {}{}",
            c.name.as_deref().unwrap_or(unknown),
            company_status(c.status, language),
            c.status_text
                .as_deref()
                .map(|t| format!(" ({t})"))
                .unwrap_or_default()
        );
        if let Some(ogrn) = &c.ogrn {
            let _ = writeln!(out, "  {} {ogrn}", if ru { "ОГРН" } else { "OGRN" });
        }
    }
    match (check.reasons.is_empty(), ru) {
        (true, true) => out.push_str("Причины: нет — ни одно правило не сработало\n"),
        (true, false) => out.push_str("Reasons: none — no rule fired\n"),
        (false, true) => out.push_str("Причины:\n"),
        (false, false) => out.push_str("Reasons:\n"),
    }
    for r in &check.reasons {
        let delta = r.delta.map(|d| format!(" {d:+}")).unwrap_or_default();
        let _ = writeln!(out, "  [{}{delta}] {} — {}", r.effect, r.rule_id, r.message);
    }
    out.push_str(if ru {
        "Реестры:\n"
    } else {
        "Registries:\n"
    });
    for (name, s) in &check.sources {
        let _ = writeln!(
            out,
            "  {name:<10} {}  ({})",
            source_status(s, language),
            time(s.fetched_at, zone)
        );
    }
    let _ = writeln!(
        out,
        "{} {}  {} {}",
        if ru { "Проверка" } else { "Check" },
        check.id,
        if ru { "правила" } else { "ruleset" },
        check
            .ruleset_version
            .as_deref()
            .map_or("-", |v| &v[..v.len().min(12)])
    );
    out
}

/// A stored check and the same facts under another ruleset, side by side: the decision,
/// the score, and each reason kept (`=`), changed in effect (`~`), gone (`-`) or new (`+`).
pub fn explanation_text(
    e: &crate::policy::Explanation,
    zone: chrono_tz::Tz,
    language: Language,
) -> String {
    use std::fmt::Write;
    let ru = language == Language::Ru;
    let short = |v: &str| v.chars().take(12).collect::<String>();
    let before = &e.before;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {} — {} {} {} ({} {}, {} {})",
        if ru { "ИНН" } else { "INN" },
        before.inn,
        if ru { "проверка" } else { "check" },
        before.id,
        before.checked_at.map(|t| time(t, zone)).unwrap_or_default(),
        if ru { "правила" } else { "ruleset" },
        short(before.ruleset_version.as_deref().unwrap_or("-")),
        if ru { "профиль" } else { "profile" },
        before.profile
    );
    let (was, now) = if ru {
        (
            "было",
            format!("с файлом ({}, профиль {})", short(&e.version), e.profile),
        )
    } else {
        (
            "decided",
            format!(
                "under the file ({}, profile {})",
                short(&e.version),
                e.profile
            ),
        )
    };
    let _ = writeln!(out, "{:<12} {:<28} {now}", "", was);
    let _ = writeln!(
        out,
        "{:<12} {:<28} {}",
        if ru { "Решение" } else { "Decision" },
        verdict(before.decision, language),
        verdict(Some(e.after.decision), language)
    );
    let _ = writeln!(
        out,
        "{:<12} {:<28} {}",
        if ru { "Балл" } else { "Score" },
        before.score.map(|s| s.to_string()).unwrap_or_default(),
        e.after.score
    );
    out.push_str(if ru {
        "Причины:\n"
    } else {
        "Reasons:\n"
    });
    for (change, r) in e.changes() {
        let delta = r.delta.map(|d| format!(" {d:+}")).unwrap_or_default();
        let _ = writeln!(
            out,
            "  {} [{}{delta}] {} — {}",
            change.mark(),
            r.effect,
            r.rule_id,
            r.message
        );
    }
    out
}

/// A dry-run example's reasons, one indented line each: rule, effect (or status), message.
fn reason_lines(out: &mut String, reasons: &[crate::rules::ExampleReason]) {
    use std::fmt::Write;
    for reason in reasons {
        let _ = writeln!(
            out,
            "      {} ({}): {}",
            reason.rule_id, reason.effect, reason.message
        );
    }
}

/// A monitoring dry-run for the terminal: the counts, the rules whose hits change, and
/// each contractor judged otherwise with the candidate's reasons.
pub fn monitoring_dry_run_text(
    r: &crate::monitoring::MonitoringDryRun,
    language: Language,
) -> String {
    use std::fmt::Write;
    let ru = language == Language::Ru;
    let mut out = String::new();
    let version: String = r.candidate_version.chars().take(12).collect();
    let status = |s: Option<crate::catalog::CatalogStatus>| {
        s.map_or(
            if ru {
                "без изменений"
            } else {
                "no change"
            },
            |s| s.as_str(),
        )
    };
    let _ = if ru {
        writeln!(
            out,
            "Пробный прогон политики мониторинга {version}: контрагентов {}, меняется статус у {}, причины у {}",
            r.evaluated, r.changed, r.reasons_changed
        )
    } else {
        writeln!(
            out,
            "Monitoring dry-run of {version}: {} contractors, {} statuses change, {} change reasons",
            r.evaluated, r.changed, r.reasons_changed
        )
    };
    for h in r.rules.iter().filter(|h| h.before != h.after) {
        let _ = writeln!(out, "  {:<32} {} → {}", h.rule_id, h.before, h.after);
    }
    for e in &r.examples {
        let _ = writeln!(
            out,
            "  {}  ({})  {} → {}",
            e.inn,
            e.catalog_status.as_str(),
            status(e.from),
            status(e.to)
        );
        reason_lines(&mut out, &e.reasons);
    }
    out
}

/// A dry-run report for the terminal (`kontragent rules dry-run`): the counts, the
/// transitions, the rules whose hits change, the checks that would miss a required
/// registry, and the examples with their reasons.
pub fn dry_run_text(r: &crate::policy::DryRunReport, language: Language) -> String {
    use std::fmt::Write;
    let ru = language == Language::Ru;
    let mut out = String::new();
    let version: String = r.candidate_version.chars().take(12).collect();
    let _ = if ru {
        writeln!(
            out,
            "Пробный прогон {version}: компаний {}, проверок {} (последняя у каждой), меняется решение у {}, причины у {} (пропущено {}){}",
            r.inns,
            r.evaluated,
            r.changed,
            r.reasons_changed,
            r.skipped,
            if r.partial {
                "; прерван по времени"
            } else {
                ""
            }
        )
    } else {
        writeln!(
            out,
            "Dry-run of {version}: {} companies, {} checks (the latest of each), {} decisions change, {} change reasons ({} skipped){}",
            r.inns,
            r.evaluated,
            r.changed,
            r.reasons_changed,
            r.skipped,
            if r.partial {
                "; stopped by the time limit"
            } else {
                ""
            }
        )
    };
    let _ = writeln!(
        out,
        "\n{}",
        if ru {
            "Решения (было → стало):"
        } else {
            "Decisions (was → now):"
        }
    );
    for t in &r.transitions {
        let arrow = format!(
            "{} → {}",
            verdict(Some(t.from), language),
            verdict(Some(t.to), language)
        );
        let _ = writeln!(out, "  {arrow:<32} {}", t.count);
    }
    let moved: Vec<_> = r.rules.iter().filter(|h| h.before != h.after).collect();
    let _ = writeln!(
        out,
        "\n{}",
        if ru {
            "Правила, срабатывающие иначе (до → после):"
        } else {
            "Rules that fire differently (before → after):"
        }
    );
    if moved.is_empty() {
        let _ = writeln!(out, "  {}", if ru { "нет" } else { "none" });
    }
    for h in &moved {
        let _ = writeln!(out, "  {:<32} {} → {}", h.rule_id, h.before, h.after);
    }
    if !r.newly_unchecked.is_empty() {
        let _ = writeln!(
            out,
            "\n{}",
            if ru {
                "Теперь без обязательного реестра:"
            } else {
                "Would now miss a required registry:"
            }
        );
        for n in &r.newly_unchecked {
            let _ = writeln!(out, "  {}  {}", n.inn, n.sources.join(", "));
        }
    }
    if !r.examples.is_empty() {
        let _ = writeln!(out, "\n{}", if ru { "Примеры:" } else { "Examples:" });
    }
    for e in &r.examples {
        let mut changes: Vec<String> = e.added.iter().map(|id| format!("+{id}")).collect();
        changes.extend(e.removed.iter().map(|id| format!("-{id}")));
        let _ = writeln!(
            out,
            "  {}  {} → {}  {} {}  {}",
            e.inn,
            verdict(Some(e.from), language),
            verdict(Some(e.to), language),
            if ru { "балл" } else { "score" },
            e.score,
            changes.join(" ")
        );
        reason_lines(&mut out, &e.reasons);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scoring::Reason;

    fn check(decision: Decision, score: i64, effects: &[(&str, &str)]) -> Check {
        let mut check: Check = serde_json::from_value(Check::example()).unwrap();
        check.decision = Some(decision);
        check.score = Some(score);
        check.reasons = effects
            .iter()
            .map(|(id, effect)| Reason {
                rule_id: (*id).into(),
                title: String::new(),
                effect: (*effect).into(),
                delta: None,
                message: String::new(),
                inputs: vec![],
                translations: Default::default(),
            })
            .collect();
        check
    }

    #[test]
    fn a_score_never_reads_as_contradicting_the_decision() {
        let c = check(Decision::Reject, 100, &[("terminated", "reject")]);
        assert_eq!(
            score_line(&c, Language::En),
            "score 100, overridden by a reject rule (terminated)"
        );
        assert_eq!(
            score_line(&c, Language::Ru),
            "балл 100, решение задало правило отклонения (terminated)"
        );
        // A low score that rejects by its band needs no explanation.
        let c = check(Decision::Reject, 40, &[("tax_arrears", "score")]);
        assert_eq!(score_line(&c, Language::Ru), "балл 40");
        let c = check(Decision::Review, 100, &[("young_company", "review")]);
        assert_eq!(
            score_line(&c, Language::En),
            "score 100, overridden by a review rule (young_company)"
        );
    }

    #[test]
    fn statuses_times_and_details_read_as_words() {
        let s = SourceSummary {
            status: SourceStatus::Unavailable,
            fetched_at: "2026-12-01T16:31:00Z".parse().unwrap(),
            detail: Some("captcha".into()),
        };
        assert_eq!(source_status(&s, Language::Ru), "недоступен: капча");
        assert_eq!(source_status(&s, Language::En), "unavailable: captcha");
        let s = SourceSummary {
            detail: Some("http_451".into()),
            ..s
        };
        assert_eq!(
            source_status(&s, Language::Ru),
            "недоступен: ошибка HTTP 451"
        );
        assert_eq!(
            time(s.fetched_at, chrono_tz::Europe::Moscow),
            "01.12.2026 19:31 MSK"
        );
    }
}

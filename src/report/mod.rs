//! «Справка о проверке контрагента»: one check as a printable page — the company, the
//! decision, every reason with the facts it read, each registry with the SHA-256 of its raw
//! answers, and where the decision came from. HTML for a browser and for print (A4 CSS is
//! the PDF path: the browser's "Save as PDF"). Rendered with minijinja, which escapes every
//! value: company names come from registries.

use crate::check::Check;
use crate::check::links::Opened;
use crate::domain::Language;
use crate::human;
use crate::sources::{Evidence, SourceStatus};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::LazyLock;

const TEMPLATE: &str = include_str!("report.html");
const CLOSED_LINK: &str = include_str!("closed_link.html");

static TEMPLATES: LazyLock<minijinja::Environment<'static>> = LazyLock::new(|| {
    let mut env = minijinja::Environment::new();
    // The `.html` name turns on HTML escaping of every value.
    env.add_template("report.html", TEMPLATE)
        .expect("the report template parses (a unit test renders it)");
    env.add_template("closed_link.html", CLOSED_LINK)
        .expect("the closed link page parses (a unit test renders it)");
    env
});

/// The page a report link that no longer opens shows the person who clicked it: expired
/// (and when), or not a link the service made (damaged, or from before a rotation).
pub fn closed_link(opened: Opened, language: Language, zone: chrono_tz::Tz) -> String {
    let (title, why) = match (opened, language) {
        (Opened::Expired(at), Language::Ru) => (
            "Срок действия ссылки истёк",
            format!(
                "Ссылка на справку действовала до {}.",
                human::time(at, zone)
            ),
        ),
        (Opened::Expired(at), Language::En) => (
            "This link has expired",
            format!(
                "The link to the report was valid until {}.",
                human::time(at, zone)
            ),
        ),
        (_, Language::Ru) => (
            "Ссылка недействительна",
            "Ссылка на справку повреждена или отозвана: откройте её заново из письма или CRM \
             либо скопируйте целиком."
                .to_owned(),
        ),
        (_, Language::En) => (
            "This link is not valid",
            "The link to the report is damaged or was revoked: open it again from the e-mail \
             or the CRM, or copy it whole."
                .to_owned(),
        ),
    };
    let next = match language {
        Language::Ru => {
            "Новую ссылку даёт повторный запрос проверки или менеджер, который её прислал."
        }
        Language::En => {
            "A new link comes with a new request for the check, or from the manager who sent it."
        }
    };
    let lang = language.as_str();
    TEMPLATES
        .get_template("closed_link.html")
        .and_then(|t| t.render(minijinja::context! { lang, title, why, next }))
        .unwrap_or_else(|_| title.to_owned())
}

/// Renders the report of `check` (already in `language`) with the raw answers behind each
/// registry's status.
pub fn render(
    check: &Check,
    evidence: &BTreeMap<String, Vec<Evidence>>,
    language: Language,
    zone: chrono_tz::Tz,
    now: DateTime<Utc>,
) -> Result<String, minijinja::Error> {
    let page = Page::of(check, evidence, language, zone, now);
    TEMPLATES.get_template("report.html")?.render(&page)
}

/// The words around the data, per language.
#[derive(Serialize)]
struct Labels {
    title: &'static str,
    generated: &'static str,
    check: &'static str,
    company: &'static str,
    reasons: &'static str,
    no_reasons: &'static str,
    registries: &'static str,
    no_evidence: &'static str,
    provenance: &'static str,
}

const RU: Labels = Labels {
    title: "Справка о проверке контрагента",
    generated: "Сформирована",
    check: "проверка",
    company: "Компания",
    reasons: "Причины решения",
    no_reasons: "Ни одно правило не сработало.",
    registries: "Реестры",
    no_evidence: "исходные ответы не сохранены (удалены по сроку хранения)",
    provenance: "Откуда решение",
};

const EN: Labels = Labels {
    title: "Counterparty check report",
    generated: "Generated",
    check: "check",
    company: "Company",
    reasons: "Reasons for the decision",
    no_reasons: "No rule fired.",
    registries: "Registries",
    no_evidence: "raw answers not kept (removed by retention)",
    provenance: "Where the decision comes from",
};

#[derive(Serialize)]
struct Page {
    lang: &'static str,
    t: &'static Labels,
    check_id: String,
    inn: String,
    company_name: String,
    generated_at: String,
    company: Vec<(&'static str, String)>,
    decision_word: &'static str,
    decision_class: &'static str,
    score_line: String,
    reasons: Vec<ReasonView>,
    sources: Vec<SourceView>,
    provenance: Vec<(&'static str, String)>,
}

#[derive(Serialize)]
struct ReasonView {
    rule_id: String,
    title: String,
    message: String,
    effect: String,
    effect_label: &'static str,
    delta: Option<String>,
    inputs: Vec<InputView>,
}

#[derive(Serialize)]
struct InputView {
    fact: String,
    value: String,
    source: String,
    as_of: Option<String>,
}

#[derive(Serialize)]
struct SourceView {
    name: String,
    status: &'static str,
    label: String,
    date: String,
    evidence: Vec<EvidenceView>,
    expects_evidence: bool,
}

#[derive(Serialize)]
struct EvidenceView {
    sha256: String,
    http_status: u16,
    received_at: String,
}

impl Page {
    fn of(
        check: &Check,
        evidence: &BTreeMap<String, Vec<Evidence>>,
        language: Language,
        zone: chrono_tz::Tz,
        now: DateTime<Utc>,
    ) -> Page {
        let ru = language == Language::Ru;
        let pick = |r: &'static str, e: &'static str| if ru { r } else { e };
        let time = |at: DateTime<Utc>| human::time(at, zone);
        let unknown = human::value(None, language);
        let company = check.company.as_ref();
        let field = |f: &dyn Fn(&crate::check::Company) -> Option<String>| {
            company.and_then(f).unwrap_or_else(|| unknown.clone())
        };
        let rows = vec![
            (pick("Название", "Name"), field(&|c| c.name.clone())),
            (
                pick("Полное название", "Full name"),
                field(&|c| c.full_name.clone()),
            ),
            (pick("ИНН", "INN"), check.inn.clone()),
            (pick("ОГРН", "OGRN"), field(&|c| c.ogrn.clone())),
            (pick("КПП", "KPP"), field(&|c| c.kpp.clone())),
            (pick("Адрес", "Address"), field(&|c| c.address.clone())),
            (pick("Руководитель", "Head"), field(&|c| c.head.clone())),
            (
                pick("Дата регистрации", "Registered on"),
                field(&|c| c.registered_on.map(human::date)),
            ),
            (
                pick("Статус", "Status"),
                field(&|c| {
                    let words = human::company_status(c.status, language);
                    Some(match &c.status_text {
                        Some(t) => format!("{words} ({t})"),
                        None => words.to_owned(),
                    })
                }),
            ),
        ];
        let reasons = check
            .reasons
            .iter()
            .map(|r| ReasonView {
                rule_id: r.rule_id.clone(),
                title: r.title.clone(),
                message: r.message.clone(),
                effect: r.effect.clone(),
                effect_label: match r.effect.as_str() {
                    "reject" => pick("отклонить", "reject"),
                    "review" => pick("на проверку", "review"),
                    _ => pick("балл", "score"),
                },
                delta: r.delta.map(|d| format!("{d:+}")),
                inputs: r
                    .inputs
                    .iter()
                    .map(|i| InputView {
                        fact: i.fact.clone(),
                        value: human::value(Some(&i.value), language),
                        source: i
                            .source
                            .clone()
                            .unwrap_or_else(|| pick("вычислено сервисом", "computed").into()),
                        as_of: i.as_of.map(time),
                    })
                    .collect(),
            })
            .collect();
        let sources = check
            .sources
            .iter()
            .map(|(name, s)| SourceView {
                name: name.clone(),
                status: s.status.as_str(),
                label: human::source_status(s, language),
                date: time(s.fetched_at),
                evidence: evidence
                    .get(name)
                    .into_iter()
                    .flatten()
                    .map(|e| EvidenceView {
                        sha256: e.sha256.clone(),
                        http_status: e.http_status,
                        received_at: time(e.received_at),
                    })
                    .collect(),
                expects_evidence: matches!(
                    s.status,
                    SourceStatus::Ok | SourceStatus::NotFound | SourceStatus::Stale
                ),
            })
            .collect();
        let provenance = vec![
            (
                pick("Версия правил (SHA-256)", "Ruleset version (SHA-256)"),
                check
                    .ruleset_version
                    .clone()
                    .unwrap_or_else(|| unknown.clone()),
            ),
            (pick("Профиль", "Profile"), check.profile.clone()),
            (
                pick("Кто запросил", "Requested by"),
                check
                    .requested_by
                    .clone()
                    .unwrap_or_else(|| unknown.clone()),
            ),
            (pick("Запрошена", "Requested at"), time(check.created_at)),
            (
                pick("Решение принято", "Decided at"),
                check.checked_at.map_or_else(|| unknown.clone(), time),
            ),
        ];
        Page {
            lang: language.as_str(),
            t: if ru { &RU } else { &EN },
            check_id: check.id.to_string(),
            inn: check.inn.clone(),
            company_name: company
                .and_then(|c| c.name.clone())
                .unwrap_or_else(|| check.inn.clone()),
            generated_at: time(now),
            company: rows,
            decision_word: human::verdict(check.decision, language),
            decision_class: check.decision.map_or("none", |d| d.as_str()),
            score_line: human::score_line(check, language),
            reasons,
            sources,
            provenance,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_named(name: &str) -> Check {
        let mut check: Check = serde_json::from_value(Check::example()).unwrap();
        check.company.as_mut().unwrap().name = Some(name.into());
        check
    }

    #[test]
    fn a_closed_link_says_why_in_the_readers_language() {
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let moscow = chrono_tz::Europe::Moscow;
        let page = closed_link(Opened::Expired(at), Language::Ru, moscow);
        assert!(page.contains("Срок действия ссылки истёк"), "{page}");
        assert!(page.contains(&human::time(at, moscow)), "{page}");
        let page = closed_link(Opened::Invalid, Language::En, moscow);
        assert!(
            page.contains("not valid") && page.contains("lang=\"en\""),
            "{page}"
        );
    }

    #[test]
    fn every_value_is_escaped() {
        let check = check_named("ООО \"<script>alert(1)</script>\" & Ко");
        let evidence = BTreeMap::from([(
            "pb".to_owned(),
            vec![Evidence::new(
                "https://pb.nalog.ru/x".into(),
                200,
                b"{}".to_vec(),
            )],
        )]);
        let html = render(
            &check,
            &evidence,
            Language::Ru,
            chrono_tz::Europe::Moscow,
            Utc::now(),
        )
        .unwrap();
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(
            html.contains("ООО &quot;&lt;script&gt;alert(1)&lt;&#x2f;script&gt;&quot; &amp; Ко"),
            "{html}"
        );
        assert!(html.contains("Справка о проверке контрагента"));
        assert!(html.contains("ОДОБРЕНО"));
        // The SHA-256 of `{}`.
        assert!(html.contains("44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"));
    }

    #[test]
    fn english_reads_in_english() {
        let html = render(
            &check_named("A"),
            &BTreeMap::new(),
            Language::En,
            chrono_tz::Europe::Moscow,
            Utc::now(),
        )
        .unwrap();
        assert!(html.contains("Counterparty check report") && html.contains("APPROVE"));
        assert!(html.contains("<html lang=\"en\">"));
    }
}

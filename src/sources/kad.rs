//! Картотека арбитражных дел, kad.arbitr.ru (registries.md §5): `POST /Kad/SearchInstances`
//! answers an HTML fragment of `<tr>` rows plus hidden paging inputs (a JSON shape is
//! accepted too). One query per role gives the court's own totals; the company's role in
//! each case is found by its INN in the parties' tooltips.
//!
//! kad refuses requests without the cookies its own page script sets (`wasm`, `pr_fp`,
//! DDoS-Guard's `__ddg*`; registries.md §16): there is no plain-HTTP way to get them, so an
//! operator configures a browser's cookie (`sources.kad.cookie`) or a command that prints a
//! fresh one (`sources.kad.cookie_command`). Without a cookie the source is `unavailable`
//! (`blocked`) at once; a 451 or 403 to a request that carried one is `cookie_expired`.
//!
//! kad bans bursts, so a flow asks as little as the totals allow: the respondent and
//! plaintiff searches always, the 12-month and bankruptcy counts only when the respondent
//! rows read do not already contain every case.

use super::findings::{CourtCase, CourtFindings};
use super::http::{date_field, number_field, str_field};
use super::{Flow, Presence, Source, SourceError};
use crate::domain::Inn;
use chrono::{NaiveDate, Utc};
use scraper::{ElementRef, Html, Selector};
use serde_json::{Value, json};
use std::sync::LazyLock;

pub struct Kad;

const HEADERS: &[(&str, &str)] = &[
    ("Accept", "application/json, text/javascript, */*"),
    ("X-Requested-With", "XMLHttpRequest"),
    ("x-date-format", "iso"),
    ("Origin", "https://kad.arbitr.ru"),
    ("Referer", "https://kad.arbitr.ru/"),
];
/// Rows per page: the most kad gives.
const COUNT: usize = 25;
/// Cases kept in the findings.
const KEEP_CASES: usize = 50;

/// `Sides[].Type`: the party's role in the query.
const RESPONDENT: i32 = 1;
const PLAINTIFF: i32 = 0;

#[async_trait::async_trait]
impl Source for Kad {
    fn name(&self) -> &'static str {
        "kad"
    }

    async fn run(&self, inn: &Inn, flow: &mut Flow) -> Result<Presence, SourceError> {
        if !flow
            .configured_cookie()
            .is_some_and(|c| c.contains("wasm="))
        {
            return Err(SourceError::Blocked);
        }
        let year_ago = (Utc::now() - chrono::Duration::days(365)).date_naive();
        let as_respondent = search(flow, inn, RESPONDENT, None, None, flow.max_pages).await?;
        let as_plaintiff = search(flow, inn, PLAINTIFF, None, None, 1).await?;
        let (recent_total, bankruptcy_total) = match counts_from_rows(&as_respondent, year_ago) {
            Some(counts) => counts,
            None => {
                let from = year_ago.format("%Y-%m-%dT00:00:00").to_string();
                let recent = search(flow, inn, RESPONDENT, Some(&from), None, 1).await?;
                let bankruptcy = search(flow, inn, RESPONDENT, None, Some("B"), 1).await?;
                (recent.total, bankruptcy.total)
            }
        };

        let mut cases = as_respondent.cases;
        for case in as_plaintiff.cases {
            if !cases.iter().any(|c| c.number == case.number) {
                cases.push(case);
            }
        }
        cases.truncate(KEEP_CASES);
        let court = CourtFindings {
            respondent_total: as_respondent.total,
            respondent_12m: recent_total,
            plaintiff_total: as_plaintiff.total,
            bankruptcy_as_debtor: bankruptcy_total,
            cases,
        };
        let any = court.respondent_total + court.plaintiff_total > 0;
        flow.findings.court = Some(court);
        Ok(if any {
            Presence::Found
        } else {
            Presence::NotFound
        })
    }
}

/// The 12-month and bankruptcy counts as respondent, from the rows alone when they are
/// every case there is and each has a date; otherwise kad must be asked.
fn counts_from_rows(respondent: &Page, year_ago: NaiveDate) -> Option<(u64, u64)> {
    let all_read = respondent.cases.len() as u64 >= respondent.total;
    if !all_read || respondent.cases.iter().any(|c| c.filed_on.is_none()) {
        return None;
    }
    let recent = respondent
        .cases
        .iter()
        .filter(|c| c.filed_on.is_some_and(|d| d >= year_ago))
        .count();
    let bankruptcy = respondent
        .cases
        .iter()
        .filter(|c| c.kind == "bankruptcy")
        .count();
    Some((recent as u64, bankruptcy as u64))
}

/// One role's cases: the court's total and the rows read.
struct Page {
    total: u64,
    cases: Vec<CourtCase>,
}

async fn search(
    flow: &mut Flow,
    inn: &Inn,
    side: i32,
    date_from: Option<&str>,
    case_type: Option<&str>,
    pages: u32,
) -> Result<Page, SourceError> {
    let mut out = Page {
        total: 0,
        cases: Vec::new(),
    };
    for page in 1..=pages.max(1) {
        let mut body = json!({
            "Page": page, "Count": COUNT, "Courts": [], "DateFrom": date_from, "DateTo": null,
            "Sides": [{"Name": inn.as_str(), "Type": side, "ExactMatch": false}],
            "Judges": [], "CaseNumbers": [], "WithVKSInstances": false
        });
        if let Some(t) = case_type {
            body["CaseType"] = json!(t);
        }
        let raw = flow
            .post_json_for_html("/Kad/SearchInstances", &body, HEADERS)
            .await
            .map_err(|e| match e {
                // A request with a cookie refused as unrecognised (403) or limited (451): the
                // cookie is stale (it lives for minutes); a fresh one may be let through.
                SourceError::Http(403 | 451) => SourceError::CookieExpired,
                other => other,
            })?;
        let parsed = parse(&raw, inn)?;
        out.total = parsed.total;
        let read = parsed.cases.len();
        out.cases.extend(parsed.cases);
        if read < COUNT || out.cases.len() as u64 >= out.total {
            break;
        }
    }
    Ok(out)
}

/// Parses an answer: an HTML fragment (`<` first) or a JSON body (`{` first).
fn parse(raw: &[u8], inn: &Inn) -> Result<Page, SourceError> {
    let text = String::from_utf8_lossy(raw);
    match text.trim_start().chars().next() {
        Some('<') => parse_html(&text, inn),
        Some('{') => parse_json(&text, inn),
        None => Err(SourceError::Garbage("empty answer".into())),
        Some(_) => Err(SourceError::Garbage("neither HTML nor JSON".into())),
    }
}

macro_rules! selector {
    ($name:ident, $css:literal) => {
        static $name: LazyLock<Selector> = LazyLock::new(|| {
            Selector::parse($css).unwrap_or_else(|_| unreachable!("valid selector {}", $css))
        });
    };
}

selector!(ROW, "tr");
selector!(NUM_CELL, "td.num");
selector!(TYPE_DIV, "div.b-container > div");
selector!(SPAN, "span");
selector!(CASE_LINK, "a.num_case");
selector!(COURT_CELL, "td.court");
selector!(JUDGE, "div.judge");
selector!(TITLED_DIV, "div[title]");
selector!(PLAINTIFF_CELL, "td.plaintiff");
selector!(RESPONDENT_CELL, "td.respondent");
selector!(TOOLTIP, "span.js-rolloverHtml");
selector!(TOTAL, "input#documentsTotalCount");

const KINDS: &[&str] = &["civil_simple", "civil", "administrative", "bankruptcy"];

fn parse_html(text: &str, inn: &Inn) -> Result<Page, SourceError> {
    // Rows of a tbody: wrap them in a table so the parser keeps them.
    let doc = Html::parse_fragment(&format!("<table><tbody>{text}</tbody></table>"));
    let total_input = doc
        .select(&TOTAL)
        .next()
        .and_then(|i| i.value().attr("value"));
    let mut cases = Vec::new();
    for row in doc.select(&ROW) {
        let Some(num) = row.select(&NUM_CELL).next() else {
            continue;
        };
        cases.push(parse_row(row, num, inn));
    }
    // The hidden inputs come after the rows (registries.md §7): without the total the
    // answer may be cut off, and a cut-off page proves neither absence nor a count.
    let Some(total) = total_input.and_then(|v| v.trim().parse::<u64>().ok()) else {
        return Err(
            if text.contains("<html") || text.to_lowercase().contains("<!doctype") {
                SourceError::Garbage("an HTML page, not a search result".into())
            } else {
                SourceError::Incomplete("no documentsTotalCount: the answer may be cut off".into())
            },
        );
    };
    Ok(Page { total, cases })
}

fn text_of(e: ElementRef<'_>) -> String {
    e.text()
        .collect::<Vec<_>>()
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn parse_row(row: ElementRef<'_>, num: ElementRef<'_>, inn: &Inn) -> CourtCase {
    let type_div = num.select(&TYPE_DIV).next();
    let kind = type_div
        .map(|d| {
            let classes: Vec<&str> = d.value().classes().collect();
            KINDS
                .iter()
                .find(|k| classes.contains(k))
                .copied()
                .unwrap_or("other")
        })
        .unwrap_or("other")
        .to_owned();
    let filed_on = type_div.and_then(|d| {
        let from_span = d.select(&SPAN).next().map(text_of);
        [from_span, d.value().attr("title").map(str::to_owned)]
            .into_iter()
            .flatten()
            .find_map(|t| NaiveDate::parse_from_str(t.trim(), "%d.%m.%Y").ok())
    });
    let link = num.select(&CASE_LINK).next();
    let number = link.map(text_of).unwrap_or_default();
    let href = link.and_then(|a| a.value().attr("href")).map(|h| {
        if h.starts_with("http") {
            h.to_owned()
        } else {
            format!("https://kad.arbitr.ru{h}")
        }
    });
    let court_cell = row.select(&COURT_CELL).next();
    let judge = court_cell
        .and_then(|c| c.select(&JUDGE).next())
        .map(|j| {
            j.value()
                .attr("title")
                .map(str::to_owned)
                .unwrap_or_else(|| text_of(j))
        })
        .filter(|j| !j.is_empty());
    let court = court_cell.and_then(|c| {
        c.select(&TITLED_DIV)
            .find(|d| !d.value().classes().any(|cl| cl == "judge"))
            .and_then(|d| d.value().attr("title").map(str::to_owned))
    });
    let names_inn = |cell: &Selector| {
        row.select(cell)
            .next()
            .is_some_and(|c| c.select(&TOOLTIP).any(|t| has_inn(&text_of(t), inn)))
    };
    let role = if names_inn(&RESPONDENT_CELL) {
        "respondent"
    } else if names_inn(&PLAINTIFF_CELL) {
        "plaintiff"
    } else if row.select(&TOOLTIP).any(|t| has_inn(&text_of(t), inn)) {
        "third_party"
    } else {
        "unknown"
    };
    CourtCase {
        number,
        link: href,
        filed_on,
        kind,
        role: role.to_owned(),
        court,
        judge,
    }
}

/// The INN appears as a whole number in the text (not inside a longer one).
fn has_inn(text: &str, inn: &Inn) -> bool {
    text.split(|c: char| !c.is_ascii_digit())
        .any(|run| run == inn.as_str())
}

/// The JSON shape some clients describe (`Result.Items`, `TotalCount`), read leniently.
fn parse_json(text: &str, inn: &Inn) -> Result<Page, SourceError> {
    let v: Value =
        serde_json::from_str(text).map_err(|e| SourceError::Garbage(format!("not JSON: {e}")))?;
    if v.get("Success").and_then(Value::as_bool) == Some(false) {
        return Err(SourceError::Garbage(format!(
            "kad refused: {}",
            str_field(&v, "Message").unwrap_or_default()
        )));
    }
    let result = v.get("Result").unwrap_or(&v);
    let items = result
        .get("Items")
        .and_then(Value::as_array)
        .ok_or_else(|| SourceError::Garbage("no Items".into()))?;
    let total = number_field(result, "TotalCount")
        .map(|t| t as u64)
        .unwrap_or(items.len() as u64);
    let party_has_inn = |item: &Value, key: &str| {
        item.get(key).and_then(Value::as_array).is_some_and(|ps| {
            ps.iter()
                .any(|p| str_field(p, "Inn").as_deref() == Some(inn.as_str()))
        })
    };
    let cases = items
        .iter()
        .map(|item| {
            let kind = match str_field(item, "CaseType").as_deref() {
                Some("Б" | "B" | "bankruptcy") => "bankruptcy",
                Some("А" | "A" | "administrative") => "administrative",
                Some(_) => "civil",
                None => "other",
            };
            let role = if party_has_inn(item, "Respondents") {
                "respondent"
            } else if party_has_inn(item, "Plaintiffs") {
                "plaintiff"
            } else {
                "unknown"
            };
            let id = str_field(item, "CaseId");
            CourtCase {
                number: str_field(item, "CaseNumber")
                    .map(|s| s.into_owned())
                    .unwrap_or_default(),
                link: id.map(|id| format!("https://kad.arbitr.ru/Card/{id}")),
                filed_on: ["Date", "StartDate", "RegistrationDate"]
                    .iter()
                    .find_map(|k| date_field(item, k)),
                kind: kind.to_owned(),
                role: role.to_owned(),
                court: str_field(item, "CourtName")
                    .or_else(|| str_field(item, "Court"))
                    .map(|s| s.into_owned()),
                judge: str_field(item, "Judge").map(|s| s.into_owned()),
            }
        })
        .collect();
    Ok(Page { total, cases })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROWS: &str = r#"
<tr>
  <td class="num"><div class="b-container"><div class="bankruptcy" title="11.08.2025"><span class="js-rolloverHtml">11.08.2025</span></div>
    <a class="num_case" href="https://kad.arbitr.ru/Card/0b1c2d3e-0000-4000-8000-000000000001">А40-123456/2025</a></div></td>
  <td class="court"><div class="judge" title="Иванова И. И.">Иванова И. И.</div><div title="АС города Москвы">АС города Москвы</div></td>
  <td class="plaintiff"><div class="b-container"><span class="js-rollover b-newRollover"><strong>ФНС России</strong>
    <span class="js-rolloverHtml"><strong>ФНС России</strong><br>Москва<div>ИНН: 7707329152</div></span></span></div></td>
  <td class="respondent"><div class="b-container"><span class="js-rollover b-newRollover"><strong>ООО "КРЕДО-СТРОЙ"</strong>
    <span class="js-rolloverHtml"><strong>ООО "КРЕДО-СТРОЙ"</strong><br>Москва<div>ИНН: 7701000040</div></span></span></div></td>
</tr>
<tr>
  <td class="num"><div class="b-container"><div class="civil_simple"><span>02.03.2026</span></div>
    <a class="num_case" href="/Card/0b1c2d3e-0000-4000-8000-000000000002">А40-5555/2026</a></div></td>
  <td class="court"><div title="АС города Москвы">АС города Москвы</div></td>
  <td class="plaintiff"><span class="js-rollover"><strong>ООО "КРЕДО-СТРОЙ"</strong><span class="js-rolloverHtml">ИНН: 7701000040</span></span></td>
  <td class="respondent"><span class="js-rollover"><strong>Данные скрыты</strong><span class="js-rolloverHtml">Данные скрыты</span></span></td>
</tr>
<tr>
  <td class="num"><div class="b-container"><div class="civil"><span>20.01.2026</span></div>
    <a class="num_case" href="/Card/0b1c2d3e-0000-4000-8000-000000000003">А40-777/2026</a></div></td>
  <td class="court"><div title="АС города Москвы">АС города Москвы</div></td>
  <td class="plaintiff"><span class="js-rollover"><strong>ИП Петров</strong><span class="js-rolloverHtml">ИНН: 770100000142</span></span></td>
  <td class="respondent">
    <span class="js-rollover"><strong>ООО "ПЕРВЫЙ"</strong><span class="js-rolloverHtml">ИНН: 7709999999</span></span>
    <div class="more"><span class="js-rollover"><strong>ООО "КРЕДО-СТРОЙ"</strong><span class="js-rolloverHtml">ИНН: 7701000040</span></span></div>
  </td>
</tr>
<input type="hidden" id="documentsPage" value="1" />
<input type="hidden" id="documentsTotalCount" value="37" />
<input type="hidden" id="documentsPagesCount" value="2" />"#;

    #[test]
    fn parses_rows_roles_kinds_and_the_hidden_total() {
        let inn = Inn::parse("7701000040").unwrap();
        let page = parse(ROWS.as_bytes(), &inn).unwrap();
        assert_eq!(page.total, 37);
        assert_eq!(page.cases.len(), 3);
        let a = &page.cases[0];
        assert_eq!(
            (a.number.as_str(), a.kind.as_str(), a.role.as_str()),
            ("А40-123456/2025", "bankruptcy", "respondent")
        );
        assert_eq!(a.filed_on, NaiveDate::from_ymd_opt(2025, 8, 11));
        assert_eq!(a.court.as_deref(), Some("АС города Москвы"));
        assert_eq!(a.judge.as_deref(), Some("Иванова И. И."));
        let b = &page.cases[1];
        assert_eq!(
            (b.kind.as_str(), b.role.as_str()),
            ("civil_simple", "plaintiff")
        );
        assert_eq!(
            b.link.as_deref(),
            Some("https://kad.arbitr.ru/Card/0b1c2d3e-0000-4000-8000-000000000002")
        );
    }

    #[test]
    fn an_empty_result_is_zero_and_a_full_page_is_garbage() {
        let inn = Inn::parse("7701000040").unwrap();
        assert_eq!(
            parse(b"", &inn).err(),
            Some(SourceError::Garbage("empty answer".into()))
        );
        let empty = r#"<input type="hidden" id="documentsTotalCount" value="0" />"#;
        assert_eq!(parse(empty.as_bytes(), &inn).unwrap().total, 0);
        assert!(
            parse(
                "<!DOCTYPE html><html><body>Ошибка</body></html>".as_bytes(),
                &inn
            )
            .is_err()
        );
    }

    #[test]
    fn a_page_cut_before_its_hidden_inputs_proves_nothing() {
        let inn = Inn::parse("7701000040").unwrap();
        let page = include_str!("../../fixtures/kad-many-respondent.html");
        let cut = &page[..page.find("documentsPage").unwrap_or(page.len() / 2)];
        let cut = &cut[..cut.rfind('<').unwrap_or(cut.len())];
        assert!(matches!(
            parse(cut.as_bytes(), &inn),
            Err(SourceError::Incomplete(_))
        ));
        // Cut inside the first row: no rows, no total — once read as "no cases".
        let first_row = &page[..page.find("td class=\"court\"").unwrap_or(10)];
        assert!(matches!(
            parse(first_row.as_bytes(), &inn),
            Err(SourceError::Incomplete(_))
        ));
    }

    #[test]
    fn reads_the_json_shape() {
        let inn = Inn::parse("7701000040").unwrap();
        let body = r#"{"Result":{"TotalCount":3,"Items":[{"CaseId":"abc","CaseNumber":"А40-1/2026","CaseType":"Б","Date":"2026-01-15T00:00:00","CourtName":"АС города Москвы","Respondents":[{"Name":"X","Inn":"7701000040"}]}]},"Success":true}"#;
        let page = parse(body.as_bytes(), &inn).unwrap();
        assert_eq!(page.total, 3);
        assert_eq!(
            (page.cases[0].kind.as_str(), page.cases[0].role.as_str()),
            ("bankruptcy", "respondent")
        );
        assert_eq!(
            page.cases[0].link.as_deref(),
            Some("https://kad.arbitr.ru/Card/abc")
        );
        assert!(matches!(
            parse(br#"{"Success":false,"Message":"Bad request"}"#, &inn),
            Err(SourceError::Garbage(reason)) if reason == "kad refused: Bad request"
        ));
    }

    #[test]
    fn an_inn_inside_a_longer_number_does_not_count() {
        let inn = Inn::parse("7701000040").unwrap();
        assert!(has_inn("ИНН: 7701000040", &inn));
        assert!(!has_inn("ОГРН: 177010000401", &inn));
    }
}

//! fedresurs.rs (ЕФРСБ and «факты деятельности», registries.md §4.1–4.3): the company (or
//! person) search by INN, its bankruptcy card, and its publications read with the role
//! rules of §4.3 — a message counts only when the company's role in it says so.

use super::http::{date_field, flag_field, number_field, str_field};
use super::{Flow, Presence, Source, SourceError, shared};
use crate::domain::{CompanyStatus, Inn, Procedure};
use chrono::NaiveDate;
use serde_json::Value;

pub struct Fedresurs;

const ACCEPT: (&str, &str) = ("Accept", "application/json, text/plain, */*");
/// Without a Referer the backend answers a bare 403.
const REFERER: (&str, &str) = ("Referer", "https://fedresurs.ru/");
const PAGE: usize = 15;

#[async_trait::async_trait]
impl Source for Fedresurs {
    fn name(&self) -> &'static str {
        "fedresurs"
    }

    async fn run(&self, inn: &Inn, flow: &mut Flow) -> Result<Presence, SourceError> {
        let (collection, card_page) = if inn.is_legal_entity() {
            ("companies", "company")
        } else {
            ("persons", "person")
        };
        let search = flow
            .get_json(
                &format!("/backend/{collection}?searchString={inn}&limit={PAGE}&offset=0"),
                &[ACCEPT, REFERER],
            )
            .await?;
        let rows = page_data(&search)?;
        let found = number_field(&search, "found").unwrap_or(0.0) as usize;
        let Some(row) = shared::exact_row(rows, "inn", inn, found)? else {
            return Ok(Presence::NotFound);
        };
        let guid = str_field(row, "guid")
            .ok_or_else(|| SourceError::Garbage("row without guid".into()))?
            .into_owned();
        if let Some(name) = str_field(row, "name") {
            flow.findings.name = Some(name.into_owned());
        }
        if let Some(status) = str_field(row, "status") {
            read_status_text(&status, flow);
        }

        let referer = format!("https://fedresurs.ru/{card_page}/{guid}");
        match flow
            .get_json(
                &format!("/backend/{collection}/{guid}/bankruptcy"),
                &[ACCEPT, ("Referer", &referer)],
            )
            .await
        {
            Ok(card) => read_bankruptcy_card(&card, flow),
            // No bankruptcy card is an answer too: there is no procedure to show.
            Err(SourceError::Http(404)) => {}
            Err(e) => return Err(e),
        }

        read_publications(flow, collection, &guid).await?;
        Ok(Presence::Found)
    }
}

/// Reads the publications, newest first, up to `max_pages` pages. A large company has over
/// a thousand messages: when they are not all read, `publications_truncated` says so, and
/// the pages left unread are the oldest. The order of the pages is not documented, so it is
/// read from the first page's dates: oldest first means the next pages come from the end.
async fn read_publications(
    flow: &mut Flow,
    collection: &str,
    guid: &str,
) -> Result<(), SourceError> {
    let referer = format!("https://fedresurs.ru/{collection}/{guid}");
    let headers = [ACCEPT, ("Referer", referer.as_str())];
    let path = |offset: usize| {
        format!("/backend/{collection}/{guid}/publications?limit={PAGE}&offset={offset}")
    };
    let first = flow.get_json(&path(0), &headers).await?;
    let messages = page_data(&first)?;
    let found = number_field(&first, "found").unwrap_or(0.0) as usize;
    let oldest_first = match (messages.first(), messages.last()) {
        (Some(a), Some(b)) => date_field(a, "datePublish") < date_field(b, "datePublish"),
        _ => false,
    };
    for m in messages {
        read_message(m, guid, flow);
    }
    let pages = found.div_ceil(PAGE).max(1);
    let mut read = messages.len();
    let rest: Vec<usize> = if oldest_first {
        (1..pages).rev().collect()
    } else {
        (1..pages).collect()
    };
    let mut pages_read = 1;
    if !messages.is_empty() {
        for page in rest.into_iter().take(flow.max_pages as usize - 1) {
            let answer = flow.get_json(&path(page * PAGE), &headers).await?;
            let messages = page_data(&answer)?;
            pages_read += 1;
            read += messages.len();
            for m in messages {
                read_message(m, guid, flow);
            }
            if messages.is_empty() {
                break;
            }
        }
    }
    flow.findings.publications_truncated = Some(pages_read < pages && read < found);
    Ok(())
}

fn page_data(answer: &Value) -> Result<&[Value], SourceError> {
    match answer.get("pageData") {
        Some(Value::Array(rows)) => Ok(rows),
        _ => Err(SourceError::Garbage("no `pageData` list".into())),
    }
}

/// The words of S-FR1: an ended procedure first, then an active stage, then "active"
/// (the vocabulary is the domain's, shared with pb and bankrot).
fn read_status_text(text: &str, flow: &mut Flow) {
    let f = &mut flow.findings;
    f.status_text = Some(text.to_owned());
    if CompanyStatus::says_procedure_ended(text) {
        f.bankruptcy_active.get_or_insert(false);
    } else if CompanyStatus::says_bankruptcy(text) {
        f.bankruptcy_active = Some(true);
        f.bankruptcy_stage.get_or_insert_with(|| text.to_owned());
        f.raise_status(CompanyStatus::Bankruptcy);
    } else if CompanyStatus::says_active(text) {
        f.bankruptcy_active.get_or_insert(false);
        f.raise_status(CompanyStatus::Active);
    } else {
        f.status_unrecognised = Some(text.to_owned());
    }
}

/// `legalCases` and `intentionMessages` of the bankruptcy card. Every case is read (live
/// cards list several, in no guaranteed order): one running procedure makes the company
/// bankrupt; a case whose status code is unknown is `status_unrecognised`, never clean.
fn read_bankruptcy_card(card: &Value, flow: &mut Flow) {
    let f = &mut flow.findings;
    for case in card
        .get("legalCases")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let status = case.get("status").unwrap_or(&Value::Null);
        let code = str_field(status, "code");
        // The Russian text is in `name` or, on some cards, in `description`.
        let words = str_field(status, "name").or_else(|| str_field(status, "description"));
        let number = str_field(case, "number").map(|s| s.into_owned());
        match Procedure::from_status(code.as_deref(), words.as_deref()) {
            Procedure::Running => {
                f.bankruptcy_active = Some(true);
                f.bankruptcy_stage = words.or(code).map(|s| s.into_owned());
                f.bankruptcy_case_number = number;
                f.raise_status(CompanyStatus::Bankruptcy);
            }
            Procedure::Ended => {
                f.bankruptcy_active.get_or_insert(false);
                if f.bankruptcy_case_number.is_none() {
                    f.bankruptcy_case_number = number;
                }
            }
            Procedure::Unrecognised => {
                f.status_unrecognised = Some(format!(
                    "bankruptcy case {}: {}",
                    number.as_deref().unwrap_or("without a number"),
                    [code.as_deref(), words.as_deref()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(" ")
                ));
            }
        }
    }
    for m in card
        .get("intentionMessages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let kind = str_field(m, "typeName").unwrap_or_default().to_lowercase();
        let date = date_field(m, "datePublish");
        // The card is the company's own: every intention in it is about the company as debtor.
        if kind.contains("кредитора") {
            latest(&mut f.creditor_intent_on, date);
        } else if kind.contains("должника") {
            latest(&mut f.debtor_intent_on, date);
        }
    }
}

fn latest(slot: &mut Option<NaiveDate>, date: Option<NaiveDate>) {
    if date > *slot {
        *slot = date;
    }
}

/// The role rules of registries.md §4.3. A message whose publisher has no guid cannot be
/// decided where the rule depends on the publisher: it is counted as "role unclear".
fn read_message(m: &Value, company: &str, flow: &mut Flow) {
    if flag_field(m, "isAnnulled") == Some(true) {
        return;
    }
    // The signals of §4.3 are all messages about facts of activity; ЕФРСБ procedure
    // messages (`BankruptcyMessage`) are read from the bankruptcy card instead.
    if str_field(m, "publicationType").is_some_and(|t| t != "SfactMessage") {
        return;
    }
    let Some(kind) = str_field(m, "type").or_else(|| str_field(m, "title")) else {
        return;
    };
    let kind = kind.to_lowercase();
    let date = date_field(m, "datePublish");
    let publisher = m
        .get("publisher")
        .and_then(|p| str_field(p, "guid"))
        .map(|g| g.into_owned());
    let participant = m
        .get("participants")
        .and_then(Value::as_array)
        .is_some_and(|ps| {
            ps.iter()
                .any(|p| str_field(p, "guid").as_deref() == Some(company))
        });
    let f = &mut flow.findings;
    if kind.contains("намерение кредитора") {
        match &publisher {
            None => *f.role_unclear_messages.get_or_insert(0) += 1,
            Some(p) if participant && p != company => latest(&mut f.creditor_intent_on, date),
            Some(_) => {}
        }
    } else if kind.contains("намерение должника") {
        match &publisher {
            None => *f.role_unclear_messages.get_or_insert(0) += 1,
            Some(p) if p == company => latest(&mut f.debtor_intent_on, date),
            Some(_) => {}
        }
    } else if kind.contains("ликвидация юридического лица") {
        match &publisher {
            None => *f.role_unclear_messages.get_or_insert(0) += 1,
            Some(p) if p == company => latest(&mut f.liquidation_notice_on, date),
            Some(_) => {}
        }
    } else if kind.contains("недостоверност") {
        if participant {
            f.unreliable_data = Some(true);
        }
    } else if kind.contains("реорганизация") {
        latest(&mut f.reorganization_notice_on, date);
    }
}

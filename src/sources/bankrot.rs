//! bankrot.fedresurs.ru (ЕФРСБ list of bankrupts, registries.md §4.4): `cmpbankrupts` for
//! companies, `prsnbankrupts` for persons. Being absent is the clean answer. The counter
//! is `total` (not `found`), and names may carry HTML entities.

use super::http::{date_field, number_field, str_field};
use super::{Flow, Presence, Source, SourceError, shared};
use crate::domain::{CompanyStatus, Inn, Procedure};
use serde_json::Value;

pub struct Bankrot;

const HEADERS: &[(&str, &str)] = &[
    ("Accept", "application/json, text/plain, */*"),
    ("Referer", "https://bankrot.fedresurs.ru/"),
    ("Origin", "https://bankrot.fedresurs.ru"),
];

#[async_trait::async_trait]
impl Source for Bankrot {
    fn name(&self) -> &'static str {
        "bankrot"
    }

    async fn run(&self, inn: &Inn, flow: &mut Flow) -> Result<Presence, SourceError> {
        let list = if inn.is_legal_entity() {
            "cmpbankrupts"
        } else {
            "prsnbankrupts"
        };
        flow.warm_up(
            &format!("/bankrupts?searchString={inn}"),
            &[("Referer", "https://bankrot.fedresurs.ru/")],
        )
        .await;
        let answer = flow
            .get_json(
                &format!(
                    "/backend/{list}?searchString={inn}&isActiveLegalCase=null&limit=15&offset=0"
                ),
                HEADERS,
            )
            .await?;
        let rows = match answer.get("pageData") {
            Some(Value::Array(rows)) => rows.as_slice(),
            _ => return Err(SourceError::Garbage("no `pageData` list".into())),
        };
        // bankrot names its total `total` (not fedresurs' `found`).
        let total = number_field(&answer, "total").unwrap_or(0.0) as usize;
        let Some(row) = shared::exact_row(rows, "inn", inn, total)? else {
            return Ok(Presence::NotFound);
        };
        let f = &mut flow.findings;
        if let Some(name) = str_field(row, "name").or_else(|| str_field(row, "fio")) {
            f.name = Some(html_escape::decode_html_entities(&name).into_owned());
        }
        // `isActive` is not "a procedure is running" (live rows say `true` for a stopped
        // case, registries.md §16): the last case's status code decides, its words only
        // when there is no code.
        let case = row.get("lastLegalCase").unwrap_or(&Value::Null);
        let status = case.get("status").unwrap_or(&Value::Null);
        let code = str_field(status, "code");
        let words = str_field(status, "description").or_else(|| str_field(row, "status"));
        f.bankruptcy_case_number = str_field(case, "number").map(|s| s.into_owned());
        match Procedure::from_status(code.as_deref(), words.as_deref()) {
            Procedure::Running => {
                f.bankruptcy_active = Some(true);
                f.bankruptcy_stage = words.or(code).map(|s| s.into_owned());
                f.status_since =
                    date_field(status, "date").or_else(|| date_field(status, "updateDate"));
                f.raise_status(CompanyStatus::Bankruptcy);
            }
            Procedure::Ended => f.bankruptcy_active = Some(false),
            Procedure::Unrecognised => {
                f.status_unrecognised = Some(format!(
                    "bankrupt list: {}",
                    [code.as_deref(), words.as_deref()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(" ")
                ));
            }
        }
        Ok(Presence::Found)
    }
}

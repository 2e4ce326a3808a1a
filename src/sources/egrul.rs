//! ЕГРЮЛ/ЕГРИП search at egrul.nalog.ru (registries.md §2): POST the query, get a token,
//! poll `search-result/<token>` until the rows are ready, pick the row with the exact INN.
//!
//! A search row tells only whether the entity has ceased (`e`); the stages (liquidation,
//! bankruptcy, reorganization) come from `pb`.

use super::http::{date_field, str_field};
use super::{Flow, Presence, Source, SourceError, shared};
use crate::domain::{CompanyStatus, EntityKind, Inn};
use serde_json::Value;

pub struct Egrul;

/// The real site's own addresses, sent whatever `base_url` is.
const REFERER: &str = "https://egrul.nalog.ru/index.html";
const ORIGIN: &str = "https://egrul.nalog.ru";
const HEADERS: &[(&str, &str)] = &[
    ("Accept", "application/json, text/javascript, */*; q=0.01"),
    ("X-Requested-With", "XMLHttpRequest"),
    ("Referer", REFERER),
    ("Origin", ORIGIN),
];

#[async_trait::async_trait]
impl Source for Egrul {
    fn name(&self) -> &'static str {
        "egrul"
    }

    async fn run(&self, inn: &Inn, flow: &mut Flow) -> Result<Presence, SourceError> {
        flow.warm_up("/index.html", &[("Referer", REFERER)]).await;
        let form = [
            ("vyp3CaptchaToken", ""),
            ("page", ""),
            ("query", inn.as_str()),
            ("region", ""),
            ("PreventChromeAutocomplete", ""),
        ];
        let answer = flow.post_form("/", &form, HEADERS).await?;
        shared::reject_captcha_or_errors(&answer)?;
        let token = str_field(&answer, "t")
            .ok_or_else(|| SourceError::Garbage("no search token".into()))?
            .into_owned();

        let rows = poll_rows(flow, &token).await?;
        // Every row carries the search's total (`tot`, in older answers `cnt`).
        let first = rows.first().unwrap_or(&Value::Null);
        let total = str_field(first, "tot")
            .or_else(|| str_field(first, "cnt"))
            .and_then(|t| t.parse::<usize>().ok())
            .unwrap_or(rows.len());
        let matching = shared::exact_rows(&rows, "i", inn, total)?;
        let Some(row) = pick_current(&matching) else {
            return Ok(Presence::NotFound);
        };
        read_row(row, flow);
        Ok(Presence::Found)
    }
}

/// Polls `search-result/<t>` until it has `rows`.
async fn poll_rows(flow: &mut Flow, token: &str) -> Result<Vec<Value>, SourceError> {
    let token = token.to_owned();
    let ask: shared::Ask = Box::new(move |flow| {
        let token = token.clone();
        Box::pin(async move {
            let ms = chrono::Utc::now().timestamp_millis();
            flow.get_json(&format!("/search-result/{token}?r={ms}&_={ms}"), HEADERS)
                .await
        })
    });
    // Live clients wait before the first poll (0.5–1.5 s, registries.md §16).
    let answer = shared::poll(
        flow,
        "search-result",
        true,
        |a| a.get("rows").is_some(),
        ask,
    )
    .await?;
    match answer.get("rows") {
        Some(Value::Array(rows)) => Ok(rows.clone()),
        _ => Err(SourceError::Garbage("`rows` is not a list".into())),
    }
}

/// An ИП can have several rows under one INN: prefer the one still in force, then the newest.
fn pick_current<'a>(rows: &[&'a Value]) -> Option<&'a Value> {
    rows.iter()
        .copied()
        .max_by_key(|r| (str_field(r, "e").is_none(), date_field(r, "r")))
}

fn read_row(row: &Value, flow: &mut Flow) {
    let f = &mut flow.findings;
    let s = |k: &str| str_field(row, k).map(|c| c.into_owned());
    f.kind = Some(match s("k").as_deref() {
        Some("fl") => EntityKind::Entrepreneur,
        _ if s("o").is_some_and(|o| o.len() == 15) => EntityKind::Entrepreneur,
        _ => EntityKind::LegalEntity,
    });
    f.name = s("c").or_else(|| s("n"));
    f.full_name = s("n");
    f.ogrn = s("o");
    f.kpp = s("p");
    f.region = s("rn");
    f.head = s("g");
    f.registered_on = date_field(row, "r");
    f.terminated_on = date_field(row, "e");
    if f.terminated_on.is_some() || s("e").is_some() {
        f.raise_status(CompanyStatus::Liquidated);
    } else {
        f.raise_status(CompanyStatus::Active);
    }
}

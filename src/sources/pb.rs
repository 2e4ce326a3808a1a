//! «Прозрачный бизнес» at pb.nalog.ru (registries.md §3): an asynchronous search
//! (`search-proc.json`: request id, then poll `get-response`), the exact-INN row, then the
//! company card (`company-proc.json`: `get-request`, then poll until it has `vyp`).
//! The pre-2022 synchronous search shape (rows in the first answer) is accepted too.
//!
//! PB is where the stages live: liquidation, bankruptcy, reorganization, unreliable data,
//! mass address, tax arrears and missing reports.

use super::http::{date_field, flag_field, number_field, str_field};
use super::{Flow, Presence, Source, SourceError, shared};
use crate::domain::{CompanyStatus, EntityKind, Inn};
use serde_json::Value;

pub struct Pb;

const HEADERS: &[(&str, &str)] = &[
    ("Accept", "application/json, text/javascript, */*; q=0.01"),
    ("X-Requested-With", "XMLHttpRequest"),
    ("Referer", "https://pb.nalog.ru/search.html"),
    ("Origin", "https://pb.nalog.ru"),
];

/// A head or founder who runs this many entities is a "mass" person (S-PB2 heuristic).
const MASS_PERSON_COUNT: f64 = 10.0;

#[async_trait::async_trait]
impl Source for Pb {
    fn name(&self) -> &'static str {
        "pb"
    }

    async fn run(&self, inn: &Inn, flow: &mut Flow) -> Result<Presence, SourceError> {
        let (mode, query_key, section) = if inn.is_legal_entity() {
            ("search-ul", "queryUl", "ul")
        } else {
            ("search-ip", "queryIp", "ip")
        };
        let form = [
            ("mode", mode),
            (query_key, inn.as_str()),
            ("page", "1"),
            ("pageSize", "10"),
        ];
        let first = flow.post_form("/search-proc.json", &form, HEADERS).await?;
        shared::reject_captcha_or_errors(&first)?;
        let result = if has_sections(&first) {
            first
        } else {
            let id = str_field(&first, "id")
                .ok_or_else(|| SourceError::Garbage("no search request id".into()))?
                .into_owned();
            let form = [("id", id.as_str()), ("method", "get-response")];
            poll(flow, "/search-proc.json", &form, has_sections).await?
        };

        let part = result.get(section).unwrap_or(&Value::Null);
        let rows = match part.get("data") {
            Some(Value::Array(rows)) => rows.as_slice(),
            None | Some(Value::Null) => &[],
            Some(_) => return Err(SourceError::Garbage("`data` is not a list".into())),
        };
        let mut total = number_field(part, "rowCount").unwrap_or(0.0) as usize;
        if flag_field(part, "hasMore") == Some(true) {
            total = total.max(rows.len() + 1);
        }
        let Some(row) = shared::exact_row(rows, "inn", inn, total)? else {
            return Ok(Presence::NotFound);
        };
        read_search_row(row, inn, flow);

        let token = str_field(row, "token")
            .ok_or_else(|| SourceError::Incomplete("row without a card token".into()))?
            .into_owned();
        let request = flow
            .post_form(
                "/company-proc.json",
                &[("token", token.as_str()), ("method", "get-request")],
                HEADERS,
            )
            .await?;
        shared::reject_captcha_or_errors(&request)?;
        let card = if has_card(&request) {
            request
        } else {
            let id = str_field(&request, "id")
                .ok_or_else(|| SourceError::Garbage("no card request id".into()))?
                .into_owned();
            let card_token = str_field(&request, "token")
                .map(|t| t.into_owned())
                .unwrap_or(token);
            let form = [
                ("token", card_token.as_str()),
                ("id", id.as_str()),
                ("method", "get-response"),
            ];
            poll(flow, "/company-proc.json", &form, has_card).await?
        };
        read_card(&card, flow);
        Ok(Presence::Found)
    }
}

fn has_sections(v: &Value) -> bool {
    v.get("ul").is_some() || v.get("ip").is_some()
}

fn has_card(v: &Value) -> bool {
    v.get("vyp").is_some_and(Value::is_object)
}

/// Polls a `get-response` (the form) at `path` until `ready` holds.
async fn poll(
    flow: &mut Flow,
    path: &'static str,
    form: &[(&str, &str)],
    ready: fn(&Value) -> bool,
) -> Result<Value, SourceError> {
    let form: Vec<(String, String)> = form
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let ask: shared::Ask = Box::new(move |flow| {
        let form = form.clone();
        Box::pin(async move {
            let pairs: Vec<(&str, &str)> =
                form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            flow.post_form(path, &pairs, HEADERS).await
        })
    });
    shared::poll(flow, path, true, ready, ask).await
}

fn or_flag(current: Option<bool>, new: Option<bool>) -> Option<bool> {
    match (current, new) {
        (Some(a), Some(b)) => Some(a || b),
        (a, b) => a.or(b),
    }
}

/// PB's own `sulst_ex` codes: 10 active, 30 bankruptcy; codes ≥ 100 are ЕГРЮЛ СЮЛСТ codes.
fn status_from_code(code: f64) -> Option<CompanyStatus> {
    match code as u32 {
        10 => Some(CompanyStatus::Active),
        30 => Some(CompanyStatus::Bankruptcy),
        c if c >= 100 => CompanyStatus::from_egrul_code(c),
        _ => None,
    }
}

/// Reads the status, liquidation and unreliability fields that a search row and `vyp` share.
fn read_status_fields(v: &Value, flow: &mut Flow) {
    let f = &mut flow.findings;
    if let Some(status) = number_field(v, "sulst_ex").and_then(status_from_code) {
        f.raise_status(status);
    }
    for key in ["sulst_name_ex", "sipst_name_ex", "НаимСтатусЮЛ"] {
        if let Some(text) = str_field(v, key) {
            f.status_from_text(&text);
        }
    }
    if let Some(since) = date_field(v, "ДатаСтатусЮЛ") {
        f.status_since = Some(since);
    }
    if flag_field(v, "pr_liq") == Some(true) {
        f.raise_status(CompanyStatus::Liquidating);
    }
    f.unreliable_data = or_flag(f.unreliable_data, flag_field(v, "invalid"));
}

fn read_search_row(row: &Value, inn: &Inn, flow: &mut Flow) {
    read_status_fields(row, flow);
    let f = &mut flow.findings;
    let s = |k: &str| str_field(row, k).map(|c| c.into_owned());
    f.kind = Some(if inn.is_legal_entity() {
        EntityKind::LegalEntity
    } else {
        EntityKind::Entrepreneur
    });
    f.name = s("namec").or_else(|| s("fio")).or_else(|| s("namep"));
    f.full_name = s("namep").or_else(|| f.name.clone());
    f.ogrn = s("ogrn").or_else(|| s("ogrnip"));
    f.region = s("regionname");
    f.okved = s("okved2main");
    f.registered_on = date_field(row, "dtogrn")
        .or_else(|| date_field(row, "dtreg"))
        .or_else(|| date_field(row, "dtogrnip"));
}

fn read_card(card: &Value, flow: &mut Flow) {
    let vyp = &card["vyp"];
    read_status_fields(vyp, flow);
    if flag_field(card, "liquidated") == Some(true) {
        flow.findings.raise_status(CompanyStatus::Liquidated);
    }
    let f = &mut flow.findings;
    let s = |k: &str| str_field(vyp, k).map(|c| c.into_owned());
    f.kpp = s("КПП").or(f.kpp.take());
    f.name = s("НаимЮЛСокр").or(f.name.take());
    f.full_name = s("НаимЮЛПолн").or(f.full_name.take());
    f.address = s("АдресРФ").or_else(|| s("Адрес"));
    if f.registered_on.is_none() {
        f.registered_on = date_field(vyp, "ДатаОГРН").or_else(|| date_field(vyp, "ДатаРег"));
    }
    // Live cards leave `masaddress` out when nobody else shares the address (§16): absent
    // is "no", like `[]`; only a value of another shape says nothing.
    match card.get("masaddress") {
        None | Some(Value::Null) => f.mass_address = Some(false),
        Some(Value::Array(list)) => f.mass_address = Some(!list.is_empty()),
        Some(_) => {}
    }
    let mass_person = ["masruk", "masuchr"].iter().any(|key| {
        vyp.get(*key)
            .and_then(Value::as_array)
            .is_some_and(|people| {
                people
                    .iter()
                    .any(|p| number_field(p, "cnt").is_some_and(|c| c >= MASS_PERSON_COUNT))
            })
    });
    let marked = or_flag(
        flag_field(vyp, "masrukinvalid"),
        flag_field(vyp, "masuchrinvalid"),
    );
    f.mass_director = or_flag(marked, Some(mass_person));

    f.tax_arrears_rub = number_field(vyp, "totalarrearsum").or_else(|| latest_arrears(card));
    f.tax_arrears = flag_field(vyp, "pr_zd").or(f.tax_arrears_rub.map(|sum| sum > 1000.0));
    f.no_reporting = flag_field(vyp, "pr_otch");
}

/// Arrears come as monthly snapshots: sum the rows of the latest (year, period) only,
/// after dropping the rows flagged `empty` (placeholders of a period without data).
fn latest_arrears(card: &Value) -> Option<f64> {
    let rows: Vec<&Value> = card
        .get("arrear")?
        .as_array()?
        .iter()
        .filter(|r| flag_field(r, "empty") != Some(true))
        .collect();
    let period = |r: &Value| {
        (
            number_field(r, "yearcode").unwrap_or(0.0) as i64,
            number_field(r, "periodcode").unwrap_or(0.0) as i64,
        )
    };
    let latest = rows.iter().map(|r| period(r)).max()?;
    Some(
        rows.iter()
            .filter(|r| period(r) == latest)
            .filter_map(|r| number_field(r, "totalsum"))
            .sum(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::settings::SourceSettings;

    fn read(card: &str) -> crate::sources::Findings {
        let settings = SourceSettings::registry("http://127.0.0.1:1");
        let http = super::super::RegistryHttp::new(&settings, None).unwrap();
        let mut flow = Flow::new(http, &settings);
        read_card(&serde_json::from_str(card).unwrap(), &mut flow);
        flow.into_parts().0
    }

    /// Live cards (registries.md §16) leave `masaddress` out when nobody shares the
    /// address, and mark placeholder `arrear` rows `empty`.
    #[test]
    fn an_absent_masaddress_is_no_and_empty_arrear_rows_are_dropped() {
        let f = read(include_str!("../../fixtures/pb-card-live-2026.json"));
        assert_eq!(f.mass_address, Some(false));
        assert_eq!(f.tax_arrears_rub, Some(254_300.5));
        assert_eq!(f.tax_arrears, Some(true));
        let f = read(r#"{"vyp":{},"masaddress":[{"inn":"7702000011"}]}"#);
        assert_eq!(f.mass_address, Some(true));
        let f = read(r#"{"vyp":{},"masaddress":"?"}"#);
        assert_eq!(f.mass_address, None, "a shape not understood says nothing");
    }
}

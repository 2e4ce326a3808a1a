//! What several registry adapters do alike, written once so they cannot drift apart:
//! the exact-INN row pick with its "cannot prove absence" rule, and the nalog.ru sites'
//! captcha/`ERRORS` check and "wait" polling (egrul and pb).

use super::http::{flag_field, str_field};
use super::{Flow, SourceError};
use crate::domain::Inn;
use futures::future::BoxFuture;
use serde_json::Value;

/// The rows whose `key` field is exactly the INN. None of them is an answer only when the
/// registry's `total` is no larger than the rows read: otherwise the INN may sit on a page
/// not read, and the answer is `incomplete` — never "not found".
pub fn exact_rows<'a>(
    rows: &'a [Value],
    key: &str,
    inn: &Inn,
    total: usize,
) -> Result<Vec<&'a Value>, SourceError> {
    let matching: Vec<&Value> = rows
        .iter()
        .filter(|r| str_field(r, key).as_deref() == Some(inn.as_str()))
        .collect();
    if matching.is_empty() && total > rows.len() {
        return Err(SourceError::Incomplete(format!(
            "{total} matches, {} rows read, INN not among them",
            rows.len()
        )));
    }
    Ok(matching)
}

/// The one row with the exact INN, or `None` when absence is proven (see [`exact_rows`]).
pub fn exact_row<'a>(
    rows: &'a [Value],
    key: &str,
    inn: &Inn,
    total: usize,
) -> Result<Option<&'a Value>, SourceError> {
    Ok(exact_rows(rows, key, inn, total)?.into_iter().next())
}

/// A nalog.ru answer that asks for a captcha or carries `ERRORS` is no answer: a captcha
/// (or a rate-limit message, which the site lifts with a captcha) is `captcha`, any other
/// error text `garbage`.
pub fn reject_captcha_or_errors(answer: &Value) -> Result<(), SourceError> {
    if flag_field(answer, "captchaRequired") == Some(true) {
        return Err(SourceError::Captcha);
    }
    if let Some(errors) = answer.get("ERRORS") {
        let text = errors.to_string().to_lowercase();
        return Err(if text.contains("captcha") || text.contains("ratelimit") {
            SourceError::Captcha
        } else {
            SourceError::Garbage(format!("ERRORS: {text}"))
        });
    }
    Ok(())
}

/// "Not ready yet" in nalog.ru's asynchronous answers: `null`, `{}` or `{"status":"wait"}`.
fn is_waiting(answer: &Value) -> bool {
    answer.is_null()
        || answer.as_object().is_some_and(|o| {
            o.is_empty() || o.get("status").and_then(Value::as_str) == Some("wait")
        })
}

/// One request of a poll, given the flow to make it with.
pub type Ask =
    Box<dyn for<'f> FnMut(&'f mut Flow) -> BoxFuture<'f, Result<Value, SourceError>> + Send>;

/// Asks up to `max_polls` times until `ready` holds, pausing `poll_interval_ms` between
/// asks (and before the first when `pause_first`). A captcha or an answer that is neither
/// ready nor "wait" ends the poll; running out of polls is a `timeout`.
pub async fn poll(
    flow: &mut Flow,
    what: &str,
    pause_first: bool,
    ready: fn(&Value) -> bool,
    mut ask: Ask,
) -> Result<Value, SourceError> {
    for attempt in 0..flow.max_polls {
        if attempt > 0 || pause_first {
            flow.pause().await;
        }
        let answer = ask(flow).await?;
        reject_captcha_or_errors(&answer)?;
        if ready(&answer) {
            return Ok(answer);
        }
        if !is_waiting(&answer) {
            return Err(SourceError::Garbage(format!(
                "unexpected answer from {what}"
            )));
        }
    }
    Err(SourceError::Timeout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn absence_is_proven_only_when_every_match_was_read() {
        let inn = Inn::parse("7707083893").unwrap();
        let rows = vec![json!({"inn": "7707083890"}), json!({"inn": "7707083893"})];
        assert_eq!(exact_row(&rows, "inn", &inn, 2).unwrap(), Some(&rows[1]));
        // Found on the page read: found, whatever the total.
        assert!(exact_row(&rows, "inn", &inn, 40).unwrap().is_some());
        let others = vec![json!({"inn": "7707083890"})];
        assert_eq!(exact_row(&others, "inn", &inn, 1).unwrap(), None);
        assert!(matches!(
            exact_row(&others, "inn", &inn, 2),
            Err(SourceError::Incomplete(_))
        ));
    }

    #[test]
    fn captcha_rate_limit_and_errors_are_no_answer() {
        assert_eq!(
            reject_captcha_or_errors(&json!({"captchaRequired": true})),
            Err(SourceError::Captcha)
        );
        assert_eq!(
            reject_captcha_or_errors(&json!({"captchaRequired": "true"})),
            Err(SourceError::Captcha)
        );
        assert_eq!(
            reject_captcha_or_errors(&json!({"ERRORS": {"ratelimit": "Превышен лимит"}})),
            Err(SourceError::Captcha)
        );
        assert!(matches!(
            reject_captcha_or_errors(&json!({"ERRORS": {"query": "Неверный запрос"}})),
            Err(SourceError::Garbage(_))
        ));
        assert_eq!(reject_captcha_or_errors(&json!({"t": "T1"})), Ok(()));
        assert!(is_waiting(&json!({"status": "wait"})));
        assert!(is_waiting(&json!(null)));
        assert!(!is_waiting(&json!({"rows": []})));
    }
}

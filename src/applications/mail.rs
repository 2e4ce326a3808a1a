//! Messages to the department: one for every application that is not spam (company, INN,
//! the screening decision with its reasons, the contact, a link) and one for every missed
//! call — in Russian, plain text and HTML. Queued in `mail_outbox` with the change that
//! causes them and sent here with retries.

use crate::check::Check;
use crate::config::SmtpSettings;
use crate::domain::application::Application;
use chrono::{Duration, Utc};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// Waits before the 2nd, 3rd, … attempt; after the last the message is `failed`.
const RETRY_S: &[i64] = &[30, 120, 600, 1800, 3600];

/// Subject, plain text and HTML of one message.
pub struct Letter {
    pub subject: String,
    pub text: String,
    pub html: String,
}

fn decision_ru(check: Option<&Check>) -> &'static str {
    crate::human::decision_words(check.and_then(|c| c.decision), crate::domain::Language::Ru)
}

/// Writes the message about `a` (`kind`), with its screening check when there is one.
/// Times read in `zone`, as everywhere a person reads them.
pub fn compose(
    kind: &str,
    a: &Application,
    check: Option<&Check>,
    link_base: &str,
    zone: chrono_tz::Tz,
) -> Letter {
    let link = format!("{link_base}/v1/applications/{}", a.id);
    let mut lines: Vec<String> = Vec::new();
    let subject = if kind == "application_sla_breached" {
        lines.push(format!(
            "Пропущен звонок по заявке: {}",
            a.due_at
                .map(|d| crate::human::time(d, zone))
                .unwrap_or_default()
        ));
        format!("Просрочен звонок: {} (ИНН {})", a.company_name, a.inn)
    } else if kind == "application_escalated" {
        lines.push(format!(
            "Звонков без ответа: {}. Решите, звонить ли дальше, или закройте заявку.",
            a.unanswered
        ));
        format!("Не дозвонились: {} (ИНН {})", a.company_name, a.inn)
    } else if kind == "application_held" {
        lines.push(
            "Заявка задержана, а не отброшена: с этого IP-адреса за час пришло больше заявок, \
             чем допускает applications.max_per_ip_per_hour (так бывает в офисе за одним адресом). \
             Проверьте её: действие reopen отправит её на проверку, reject закроет."
                .into(),
        );
        format!("Заявка задержана: {} (ИНН {})", a.company_name, a.inn)
    } else {
        format!(
            "Новая заявка: {} (ИНН {}) — {}",
            a.company_name,
            a.inn,
            decision_ru(check)
        )
    };
    lines.push(format!("Компания: {}", a.company_name));
    lines.push(format!("ИНН: {}", a.inn));
    lines.push(format!("Решение проверки: {}", decision_ru(check)));
    if let Some(check) = check
        && !check.reasons.is_empty()
    {
        lines.push("Причины:".into());
        lines.extend(check.reasons.iter().map(|r| format!("  — {}", r.message)));
    }
    lines.push(format!(
        "Контакт: {}, {}, {}",
        a.contact_name, a.phone, a.email
    ));
    if let Some(m) = &a.message {
        lines.push(format!("Сообщение: {m}"));
    }
    if let Some(assignee) = &a.assignee {
        lines.push(format!("Ответственный: {assignee}"));
    }
    if let Some(check) = check {
        lines.push(format!("Справка: {link_base}{}", check.report_link()));
    }
    lines.push(format!("Заявка: {link}"));
    let text = lines.join("\n") + "\n";
    let escape = |s: &str| html_escape::encode_text(s).into_owned();
    let html = format!(
        "<html><body><h2>{}</h2>{}</body></html>",
        escape(&subject),
        lines
            .iter()
            .map(|l| format!("<p>{}</p>", escape(l)))
            .collect::<String>()
    );
    Letter {
        subject,
        text,
        html,
    }
}

/// Sends letters through the configured server.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
    /// The supervisors (`applications.escalate_to`).
    supervisors: Vec<Mailbox>,
}

/// Who a message of `kind` goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipients {
    /// The department.
    Department,
    /// The department and the supervisors: a missed call.
    WithSupervisors,
    /// The supervisors alone (the department when there are none): an escalation.
    Supervisors,
}

impl Recipients {
    pub fn of(kind: &str) -> Recipients {
        match kind {
            "application_sla_breached" => Recipients::WithSupervisors,
            "application_escalated" => Recipients::Supervisors,
            _ => Recipients::Department,
        }
    }
}

impl Mailer {
    /// `None` when e-mail is off (no `smtp.url` or no `applications.notify_to`).
    pub fn new(
        smtp: &SmtpSettings,
        notify_to: &[String],
        escalate_to: &[String],
    ) -> Result<Option<Mailer>, String> {
        if smtp.url.is_empty() || notify_to.is_empty() {
            return Ok(None);
        }
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp.url.expose())
            .map_err(|e| format!("smtp.url: {e}"))?
            .timeout(Some(std::time::Duration::from_millis(smtp.timeout_ms)))
            .build();
        let from = smtp.from.parse().map_err(|e| format!("smtp.from: {e}"))?;
        let parse = |list: &[String], key: &str| {
            list.iter()
                .map(|t| {
                    t.parse()
                        .map_err(|e| format!("applications.{key} `{t}`: {e}"))
                })
                .collect::<Result<Vec<Mailbox>, String>>()
        };
        Ok(Some(Mailer {
            transport,
            from,
            to: parse(notify_to, "notify_to")?,
            supervisors: parse(escalate_to, "escalate_to")?,
        }))
    }

    pub async fn send(&self, letter: &Letter, recipients: Recipients) -> Result<(), String> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(letter.subject.clone());
        let to: Vec<&Mailbox> = match recipients {
            Recipients::Department => self.to.iter().collect(),
            Recipients::WithSupervisors => self.to.iter().chain(&self.supervisors).collect(),
            Recipients::Supervisors if !self.supervisors.is_empty() => {
                self.supervisors.iter().collect()
            }
            Recipients::Supervisors => self.to.iter().collect(),
        };
        for to in to {
            builder = builder.to(to.clone());
        }
        let message = builder
            .multipart(MultiPart::alternative_plain_html(
                letter.text.clone(),
                letter.html.clone(),
            ))
            .map_err(|e| e.to_string())?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// After a failed attempt: the next state and when.
pub fn after_failure(attempts: i64) -> (&'static str, chrono::DateTime<Utc>) {
    match RETRY_S.get((attempts - 1).max(0) as usize) {
        Some(wait) => ("pending", Utc::now() + Duration::seconds(*wait)),
        None => ("failed", Utc::now()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::application::Stage;

    #[test]
    fn the_breach_letter_tells_the_missed_time_in_the_display_zone() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-01T07:10:00Z")
            .unwrap()
            .to_utc();
        let a = Application {
            id: "01a".into(),
            inn: "7701000019".into(),
            company_name: "ООО Северный ветер".into(),
            contact_name: "Иван Петров".into(),
            phone: "+74951234567".into(),
            email: "ivan@example.ru".into(),
            message: None,
            stage: Stage::Screened,
            spam_signals: Vec::new(),
            check_id: None,
            decision: None,
            next_action: Some("first_contact".into()),
            due_at: Some(at),
            unanswered: 0,
            assignee: None,
            agreement: None,
            created_at: at,
            updated_at: at,
            client_ip: String::new(),
        };
        let letter = compose(
            "application_sla_breached",
            &a,
            None,
            "https://k.example.ru",
            chrono_tz::Europe::Moscow,
        );
        assert!(
            letter
                .text
                .starts_with("Пропущен звонок по заявке: 01.12.2026 10:10 MSK\n"),
            "{}",
            letter.text
        );
    }
}

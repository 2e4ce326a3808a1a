//! What the website form sends: validated field by field (codes the form shows next to the
//! field), and judged for spam without telling the sender.

use crate::domain::{Inn, InnError};
use chrono::{DateTime, Utc};

/// The form's fields as sent.
#[derive(Debug, Clone, Default)]
pub struct Form {
    pub inn: String,
    pub company_name: String,
    pub contact_name: String,
    pub phone: String,
    pub email: String,
    pub message: Option<String>,
    /// The honeypot: hidden from people, filled by bots.
    pub website: Option<String>,
    /// When the page with the form rendered.
    pub form_started_at: Option<DateTime<Utc>>,
}

/// A field the form must ask again.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FieldError {
    #[error("{0}")]
    Inn(InnError),
    #[error("not a phone number (for example +7 495 123-45-67)")]
    Phone,
    #[error("not an e-mail address")]
    Email,
    #[error("`{field}`: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
}

/// The form's data, valid.
#[derive(Debug, Clone, PartialEq)]
pub struct Valid {
    pub inn: Inn,
    pub company_name: String,
    pub contact_name: String,
    /// E.164.
    pub phone: String,
    pub email: String,
    pub message: Option<String>,
}

fn text(field: &'static str, value: &str, max: usize) -> Result<String, FieldError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(FieldError::Invalid {
            field,
            message: "required".into(),
        });
    }
    if value.chars().count() > max {
        return Err(FieldError::Invalid {
            field,
            message: format!("at most {max} characters"),
        });
    }
    Ok(value.to_owned())
}

/// A phone number in E.164, read as Russian when it has no country code.
pub fn phone_e164(raw: &str) -> Result<String, FieldError> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > 40 {
        return Err(FieldError::Phone);
    }
    let number = phonenumber::parse(Some(phonenumber::country::Id::RU), raw)
        .map_err(|_| FieldError::Phone)?;
    if !phonenumber::is_valid(&number) {
        return Err(FieldError::Phone);
    }
    Ok(number.format().mode(phonenumber::Mode::E164).to_string())
}

/// A plausible address: one `@`, a local part, a dotted domain, no spaces.
pub fn email(raw: &str) -> Result<String, FieldError> {
    let raw = raw.trim();
    let ok = raw.len() <= 254
        && !raw.chars().any(char::is_whitespace)
        && raw.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains("..")
        });
    if ok {
        Ok(raw.to_lowercase())
    } else {
        Err(FieldError::Email)
    }
}

impl Form {
    /// Every field checked; the first problem in the form's order.
    pub fn validate(&self) -> Result<Valid, FieldError> {
        let inn = Inn::parse(self.inn.trim()).map_err(FieldError::Inn)?;
        let company_name = text("company_name", &self.company_name, 300)?;
        let contact_name = text("contact_name", &self.contact_name, 200)?;
        let phone = phone_e164(&self.phone)?;
        let email = email(&self.email)?;
        let message = match self.message.as_deref().map(str::trim) {
            Some(m) if m.chars().count() > 2000 => {
                return Err(FieldError::Invalid {
                    field: "message",
                    message: "at most 2000 characters".into(),
                });
            }
            Some("") | None => None,
            Some(m) => Some(m.to_owned()),
        };
        Ok(Valid {
            inn,
            company_name,
            contact_name,
            phone,
            email,
            message,
        })
    }

    /// The spam signals the form itself shows (the rate signals need the store).
    pub fn signals(&self, now: DateTime<Utc>, min_fill_s: u64) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self
            .website
            .as_deref()
            .is_some_and(|w| !w.trim().is_empty())
        {
            out.push("honeypot");
        }
        match self.form_started_at {
            Some(started) => {
                let filled = (now - started).num_seconds();
                if filled < min_fill_s as i64 {
                    out.push("too_fast");
                }
            }
            None => out.push("no_form_time"),
        }
        if self.message.as_deref().is_some_and(has_link) {
            out.push("link_in_message");
        }
        out
    }
}

fn has_link(text: &str) -> bool {
    let text = text.to_lowercase();
    ["http://", "https://", "www.", "t.me/", "bit.ly/"]
        .iter()
        .any(|p| text.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> Form {
        Form {
            inn: "7707083893".into(),
            company_name: "ООО Ромашка".into(),
            contact_name: "Иван Петров".into(),
            phone: "8 (495) 123-45-67".into(),
            email: "Ivan@Example.ru".into(),
            message: Some("Хотим сотрудничать".into()),
            website: None,
            form_started_at: Some(Utc::now() - chrono::Duration::seconds(40)),
        }
    }

    #[test]
    fn a_valid_form_is_normalized() {
        let v = form().validate().unwrap();
        assert_eq!(v.phone, "+74951234567");
        assert_eq!(v.email, "ivan@example.ru");
        assert_eq!(v.inn.as_str(), "7707083893");
        assert!(form().signals(Utc::now(), 3).is_empty());
    }

    #[test]
    fn each_bad_field_has_its_error() {
        let bad = |f: fn(&mut Form)| {
            let mut form = form();
            f(&mut form);
            form.validate().unwrap_err()
        };
        assert!(matches!(
            bad(|f| f.inn = "7707083894".into()),
            FieldError::Inn(_)
        ));
        assert_eq!(bad(|f| f.phone = "12345".into()), FieldError::Phone);
        assert_eq!(
            bad(|f| f.phone = "+7 (495) 123-45".into()),
            FieldError::Phone
        );
        assert_eq!(bad(|f| f.email = "ivan@example".into()), FieldError::Email);
        assert_eq!(
            bad(|f| f.email = "ivan example.ru".into()),
            FieldError::Email
        );
        assert!(matches!(
            bad(|f| f.company_name = " ".into()),
            FieldError::Invalid {
                field: "company_name",
                ..
            }
        ));
        assert!(matches!(
            bad(|f| f.message = Some("x".repeat(2001))),
            FieldError::Invalid {
                field: "message",
                ..
            }
        ));
        assert_eq!(phone_e164("+7 916 000-00-00").unwrap(), "+79160000000");
    }

    #[test]
    fn the_form_shows_its_spam_signals() {
        let now = Utc::now();
        let mut f = form();
        f.website = Some("http://spam".into());
        f.form_started_at = Some(now - chrono::Duration::seconds(1));
        f.message = Some("Купите на https://example.com".into());
        assert_eq!(
            f.signals(now, 3),
            ["honeypot", "too_fast", "link_in_message"]
        );
        f.form_started_at = None;
        assert!(f.signals(now, 3).contains(&"no_form_time"));
    }
}

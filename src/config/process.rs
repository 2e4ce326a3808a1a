//! Settings of the registration and monitoring process: applications and their SLA,
//! e-mail, the catalog, monitoring and retention.

use super::{Secret, list};
use serde::{Deserialize, Serialize};

/// How long what grows with every check is kept (0 = for ever); a decision is kept for ever.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSettings {
    /// Raw registry bodies older than this are emptied (URL, status and SHA-256 stay).
    pub evidence_days: u32,
    /// Finished checks older than this keep their decision and reasons only.
    pub checks_days: u32,
    /// How often a pass runs (one instance at a time).
    pub tick_s: u64,
}

/// The mail server for messages to the department.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    /// `smtp://host:port` (STARTTLS when offered), `smtps://host:port`, with
    /// `user:password@` when needed; empty: no e-mail. A secret (it may hold a password).
    pub url: Secret,
    /// The sender.
    pub from: String,
    /// One attempt's limit.
    pub timeout_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogSettings {
    /// Listing needs an `approve` no older than this (or a manager's override).
    pub max_decision_age_s: u64,
    /// Window for the rolling rating average and count.
    pub rating_window_days: u32,
    /// Window for complaints, SLA breaches and the on-time ratio.
    pub incident_window_days: u32,
}

/// Applications from the website's registration form.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationSettings {
    /// A form sent sooner than this after `form_started_at` was filled by a bot.
    pub min_fill_s: u64,
    /// More applications than this from one client IP within an hour are spam.
    pub max_per_ip_per_hour: u32,
    /// More applications than this with one phone number within an hour are spam.
    pub max_per_phone_per_hour: u32,
    /// The scoring profile of the screening check (empty: `rules.default_profile`).
    pub profile: String,
    /// Close an application whose screening says `reject` without a manager.
    pub auto_reject: bool,
    /// The department's time zone (IANA), for the SLA and the calendar.
    pub timezone: String,
    /// The department's addresses: a message on every application that is not spam and on
    /// every missed call (needs `smtp.url`).
    #[serde(deserialize_with = "list")]
    pub notify_to: Vec<String>,
    /// The supervisors: they get the missed-call message too, and the one about an
    /// application whose calls went unanswered `sla.max_unanswered` times.
    #[serde(default, deserialize_with = "list")]
    pub escalate_to: Vec<String>,
    /// The service's address as managers reach it (`https://kontragent.example.ru`), for the
    /// links in the messages; empty: links are paths.
    pub link_base: String,
    pub sla: SlaSettings,
    pub calendar: CalendarSettings,
}

/// The lead-handling rules.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaSettings {
    /// The first call is due this long after an application arrives.
    pub first_contact_s: u64,
    /// After an unanswered call, the next is due this long later.
    pub retry_after_s: u64,
    /// After a second unanswered call, the next is due on the next working day at this time.
    pub next_day_at: String,
    /// `application.sla_due` is sent this long before a call is due.
    pub remind_before_s: u64,
    /// How often the service looks for due and missed calls.
    pub tick_ms: u64,
    /// After this many unanswered calls (0: no cap) the application is escalated to
    /// `applications.escalate_to`, or closed as unreachable when nobody is set.
    #[serde(default)]
    pub max_unanswered: u32,
}

/// When the department works.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarSettings {
    /// `mon` … `sun`.
    #[serde(deserialize_with = "list")]
    pub working_days: Vec<String>,
    /// `09:00-18:00`.
    pub working_hours: String,
    /// Dates (`2027-01-01`) that are not working days.
    #[serde(deserialize_with = "list")]
    pub holidays: Vec<String>,
}

impl ApplicationSettings {
    /// The business calendar the SLA runs on.
    pub fn calendar(&self) -> Result<crate::domain::sla::Calendar, String> {
        crate::domain::sla::Calendar::parse(
            &self.timezone,
            &self.calendar.working_days,
            &self.calendar.working_hours,
            &self.calendar.holidays,
        )
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitoringSettings {
    /// Run the scheduler in `serve` (every instance may; leases keep the work unique).
    pub enabled: bool,
    /// How often each contractor is re-checked.
    pub interval_s: u64,
    /// Registry answers younger than this are reused by a re-check.
    pub max_age_s: u64,
    /// How often the scheduler looks for due contractors.
    pub tick_ms: u64,
    /// Contractors claimed per look.
    pub batch: u32,
    /// Contractors re-checked at once by this instance.
    pub concurrency: u32,
    /// How long a claim lasts; a crashed instance's claims expire after it.
    pub lease_s: u64,
    /// The monitoring policy file.
    pub rules_path: String,
    /// A source failing at every re-check for this long gives a `source_unavailable` event.
    pub unavailable_alert_s: u64,
}

//! The lead-handling rules as data: first contact within `first_contact_s` of arrival, a
//! second call `retry_after_s` after an unanswered one, then a call on the next working
//! day at `next_day_at` — all on the department's business calendar, so nothing falls due
//! at night, at a weekend or on a holiday.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

/// Working days and hours in the department's time zone.
#[derive(Debug, Clone)]
pub struct Calendar {
    pub tz: Tz,
    pub working_days: Vec<Weekday>,
    pub opens: NaiveTime,
    pub closes: NaiveTime,
    pub holidays: Vec<NaiveDate>,
}

impl Calendar {
    /// Reads the settings' spellings: `Europe/Moscow`, `["mon", …]`, `"09:00-18:00"`,
    /// `["2027-01-01", …]`.
    pub fn parse(
        timezone: &str,
        working_days: &[String],
        working_hours: &str,
        holidays: &[String],
    ) -> Result<Calendar, String> {
        let tz: Tz = timezone
            .parse()
            .map_err(|_| format!("`{timezone}` is not an IANA time zone"))?;
        let working_days = working_days
            .iter()
            .map(|d| {
                d.parse::<Weekday>()
                    .map_err(|_| format!("`{d}` is not a weekday"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if working_days.is_empty() {
            return Err("at least one working day".into());
        }
        let (opens, closes) = working_hours
            .split_once('-')
            .and_then(|(a, b)| {
                Some((
                    NaiveTime::parse_from_str(a.trim(), "%H:%M").ok()?,
                    NaiveTime::parse_from_str(b.trim(), "%H:%M").ok()?,
                ))
            })
            .filter(|(a, b)| a < b)
            .ok_or_else(|| format!("`{working_hours}` is not like 09:00-18:00"))?;
        let holidays = holidays
            .iter()
            .map(|d| {
                d.parse::<NaiveDate>()
                    .map_err(|_| format!("`{d}` is not a date (YYYY-MM-DD)"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Calendar {
            tz,
            working_days,
            opens,
            closes,
            holidays,
        })
    }

    fn is_working_day(&self, day: NaiveDate) -> bool {
        self.working_days.contains(&day.weekday()) && !self.holidays.contains(&day)
    }

    fn at(&self, day: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
        self.tz
            .from_local_datetime(&day.and_time(time))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            // A time that does not exist locally (a DST gap): an hour later does.
            .unwrap_or_else(|| self.at(day, time + Duration::hours(1)))
    }

    /// `t` if it falls within working hours, else the start of the next working period.
    pub fn next_working(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        let local = t.with_timezone(&self.tz);
        let mut day = local.date_naive();
        let time = local.time();
        if self.is_working_day(day) && time >= self.opens && time < self.closes {
            return t;
        }
        if !(self.is_working_day(day) && time < self.opens) {
            day = self.next_working_day(day);
        }
        self.at(day, self.opens)
    }

    /// The first working day after `day`.
    pub fn next_working_day(&self, day: NaiveDate) -> NaiveDate {
        let mut next = day;
        // A year of holidays at most: the settings are checked to have a working day.
        for _ in 0..400 {
            next = next.succ_opt().unwrap_or(next);
            if self.is_working_day(next) {
                return next;
            }
        }
        next
    }

    /// `at` on the first working day after the local date of `t`.
    pub fn next_day_at(&self, t: DateTime<Utc>, at: NaiveTime) -> DateTime<Utc> {
        let day = t.with_timezone(&self.tz).date_naive();
        self.at(self.next_working_day(day), at)
    }
}

/// When the first call is due: `first_contact_s` after arrival, moved to the start of the
/// next working period when that falls outside working hours.
pub fn first_contact_due(
    cal: &Calendar,
    arrived: DateTime<Utc>,
    first_contact_s: u64,
) -> DateTime<Utc> {
    cal.next_working(arrived + Duration::seconds(first_contact_s as i64))
}

/// When the next call is due after `unanswered` calls without an answer (the last at
/// `last_call`): `retry_after_s` later after the first, else the next working day at
/// `next_day_at`.
pub fn next_call_due(
    cal: &Calendar,
    last_call: DateTime<Utc>,
    unanswered: u32,
    retry_after_s: u64,
    next_day_at: NaiveTime,
) -> DateTime<Utc> {
    if unanswered <= 1 {
        cal.next_working(last_call + Duration::seconds(retry_after_s as i64))
    } else {
        cal.next_day_at(last_call, next_day_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moscow() -> Calendar {
        Calendar::parse(
            "Europe/Moscow",
            &["mon", "tue", "wed", "thu", "fri"].map(String::from),
            "09:00-18:00",
            &["2026-12-31".into()],
        )
        .unwrap()
    }

    /// A Moscow local time as UTC (Moscow is UTC+3 all year).
    fn msk(s: &str) -> DateTime<Utc> {
        chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M")
            .unwrap()
            .and_utc()
            - Duration::hours(3)
    }

    #[test]
    fn a_first_contact_is_due_in_ten_minutes_within_working_hours() {
        let cal = moscow();
        // Wednesday 2 December 2026, 11:00.
        assert_eq!(
            first_contact_due(&cal, msk("2026-12-02 11:00"), 600),
            msk("2026-12-02 11:10")
        );
        // 17:55: ten minutes later is after closing → Thursday 09:00.
        assert_eq!(
            first_contact_due(&cal, msk("2026-12-02 17:55"), 600),
            msk("2026-12-03 09:00")
        );
        // 07:30 the same day → 09:00.
        assert_eq!(
            first_contact_due(&cal, msk("2026-12-02 07:30"), 600),
            msk("2026-12-02 09:00")
        );
    }

    #[test]
    fn a_friday_evening_application_is_due_on_monday() {
        let cal = moscow();
        assert_eq!(
            first_contact_due(&cal, msk("2026-12-04 19:30"), 600),
            msk("2026-12-07 09:00")
        );
        assert_eq!(
            first_contact_due(&cal, msk("2026-12-05 12:00"), 600),
            msk("2026-12-07 09:00")
        );
    }

    #[test]
    fn holidays_are_skipped() {
        let cal = moscow();
        // Wednesday 30 December, evening → 31 December is a holiday → Friday 1 January.
        assert_eq!(
            first_contact_due(&cal, msk("2026-12-30 18:30"), 600),
            msk("2027-01-01 09:00")
        );
    }

    #[test]
    fn unanswered_calls_are_retried_two_hours_later_then_the_next_working_day() {
        let cal = moscow();
        let at = NaiveTime::from_hms_opt(10, 0, 0).unwrap();
        assert_eq!(
            next_call_due(&cal, msk("2026-12-02 11:10"), 1, 7200, at),
            msk("2026-12-02 13:10")
        );
        // 17:00 + 2 h is after closing → next morning.
        assert_eq!(
            next_call_due(&cal, msk("2026-12-02 17:00"), 1, 7200, at),
            msk("2026-12-03 09:00")
        );
        assert_eq!(
            next_call_due(&cal, msk("2026-12-02 13:10"), 2, 7200, at),
            msk("2026-12-03 10:00")
        );
        // A Friday's second unanswered call → Monday at 10:00.
        assert_eq!(
            next_call_due(&cal, msk("2026-12-04 13:10"), 2, 7200, at),
            msk("2026-12-07 10:00")
        );
    }

    #[test]
    fn bad_settings_are_named() {
        let days = ["mon".to_owned()];
        assert!(
            Calendar::parse("Mars/Olympus", &days, "09:00-18:00", &[])
                .unwrap_err()
                .contains("Mars")
        );
        assert!(Calendar::parse("Europe/Moscow", &["monday!".into()], "09:00-18:00", &[]).is_err());
        assert!(Calendar::parse("Europe/Moscow", &days, "18:00-09:00", &[]).is_err());
        assert!(
            Calendar::parse(
                "Europe/Moscow",
                &days,
                "09:00-18:00",
                &["31.12.2026".into()]
            )
            .is_err()
        );
        assert!(Calendar::parse("Europe/Moscow", &[], "09:00-18:00", &[]).is_err());
    }
}

//! The CRM connectors: a CRM's own workflow asks for a check and gets the verdict written
//! back (integrations.md). Calls to a CRM go through the SSRF guard (`crate::outbound`).

pub mod amocrm;
pub mod bitrix24;
pub mod follow;
pub mod form;
pub mod verdict;

/// A CRM's call budget: `rps` calls a second (`fallback_rps` when not positive) after a
/// `burst` (at least one).
fn quota(rps: f64, fallback_rps: f64, burst: u32) -> governor::Quota {
    use std::num::NonZeroU32;
    let rps = if rps > 0.0 { rps } else { fallback_rps };
    governor::Quota::with_period(std::time::Duration::from_secs_f64(1.0 / rps))
        .unwrap_or_else(|| governor::Quota::per_second(NonZeroU32::MIN))
        .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN))
}

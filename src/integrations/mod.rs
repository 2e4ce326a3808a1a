//! The CRM connectors: a CRM's own workflow asks for a check and gets the verdict written
//! back (integrations.md). Calls to a CRM go through the SSRF guard (`crate::outbound`).

pub mod amocrm;
pub mod bitrix24;
pub mod follow;
pub mod form;
pub mod verdict;

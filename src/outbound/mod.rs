//! Calls to URLs taken from input — webhook subscriptions, check callbacks, and the CRM
//! endpoints to come — go through here: the SSRF guard decides which addresses may be
//! reached, and one client enforces it on every resolved address.

pub mod client;
pub mod guard;

pub use client::{Attempt, HostsResolver, NameResolver, Outbound, Reply, SystemResolver};
pub use guard::{AllowList, check_url, forbidden_reason};

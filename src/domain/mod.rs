//! Domain types: identifiers and vocabularies with no I/O.
//!
//! Every type here is built by a fallible `parse` (parse, don't validate):
//! once a value exists it is valid, so no later layer re-checks it.

pub mod access;
pub mod application;
pub mod catalog;
mod company;
pub mod crm;
mod decision;
pub mod events;
mod inn;
mod language;
pub mod lenient;
mod ogrn;
mod secret;
pub mod signing;
pub mod sla;
pub mod webhook;

pub use company::{CompanyStatus, EntityKind, Procedure};
pub use decision::Decision;
pub use inn::{Inn, InnError, mask_inns};
pub use language::{Language, value_text};
pub use ogrn::{Ogrn, OgrnError};
pub use secret::Secret;

/// Digits of an ASCII string as numbers; callers check the string is all digits first.
fn digits(s: &str) -> Vec<u32> {
    s.bytes().map(|b| u32::from(b - b'0')).collect()
}

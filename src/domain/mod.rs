//! Domain types: identifiers and vocabularies with no I/O.
//!
//! Every type here is built by a fallible `parse` (parse, don't validate):
//! once a value exists it is valid, so no later layer re-checks it.

mod company;
mod decision;
mod inn;
mod language;
mod ogrn;

pub use company::{CompanyStatus, EntityKind, Procedure};
pub use decision::Decision;
pub use inn::{Inn, InnError, mask_inns};
pub use language::Language;
pub use ogrn::{Ogrn, OgrnError};

/// Digits of an ASCII string as numbers; callers check the string is all digits first.
fn digits(s: &str) -> Vec<u32> {
    s.bytes().map(|b| u32::from(b - b'0')).collect()
}

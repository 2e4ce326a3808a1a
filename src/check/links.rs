//! Report links that open in a browser. A browser sends no API key, so the link carries its
//! own permission: `/v1/checks/{id}/report?sig=…`, the signature an HMAC of the check's id
//! under the service's own key (kept sealed in the database). A link opens that one report
//! and nothing else; changing a character of the id or the signature closes it.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use uuid::Uuid;

/// The name the key is kept under in `service_secrets`.
pub const REPORT_LINKS_SECRET: &str = "report_links";

/// Signs and checks report links.
pub struct ReportLinks {
    key: Vec<u8>,
}

impl ReportLinks {
    pub fn new(key: &str) -> ReportLinks {
        ReportLinks {
            key: key.as_bytes().to_vec(),
        }
    }

    /// The report's path with its signature, relative to the service.
    pub fn path(&self, check_id: Uuid) -> String {
        format!(
            "/v1/checks/{check_id}/report?sig={}",
            self.sign(&check_id.to_string())
        )
    }

    /// Whether `sig` is the signature of the report of `check_id` (as the path spells it).
    pub fn verify(&self, check_id: &str, sig: &str) -> bool {
        bool::from(self.sign(check_id).as_bytes().ct_eq(sig.as_bytes()))
    }

    /// 128 bits of HMAC-SHA256 over `report:<id>`, hex.
    fn sign(&self, check_id: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key");
        mac.update(b"report:");
        mac.update(check_id.to_ascii_lowercase().as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_opens_its_own_report_only() {
        let links = ReportLinks::new("k1");
        let id = Uuid::now_v7();
        let path = links.path(id);
        let sig = path.split("sig=").nth(1).unwrap();
        assert_eq!(sig.len(), 32);
        assert!(links.verify(&id.to_string(), sig));
        assert!(links.verify(&id.to_string().to_uppercase(), sig));
        assert!(!links.verify(&Uuid::now_v7().to_string(), sig));
        assert!(!links.verify(&id.to_string(), &sig.replace(&sig[..1], "x")));
        assert!(!links.verify(&id.to_string(), ""));
        assert!(!ReportLinks::new("k2").verify(&id.to_string(), sig));
    }
}

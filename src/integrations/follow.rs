//! Catalog status changes of contractors linked to a CRM company, written back to it as a
//! check's verdict is: `external_ids.bitrix24 = "<member_id>:<company id>"`,
//! `external_ids.amocrm = "<subdomain>:<company id>"`. The event feed is followed from a
//! stored cursor by one instance at a time (a lease in `fetch_claims`); an event is written
//! back at least once.

use super::amocrm::AmoCrm;
use super::bitrix24::Bitrix24;
use crate::check::{Check, CheckService};
use crate::storage::{Store, StoreError};
use chrono::Utc;
use std::sync::Arc;
use std::time::Duration;

/// The cursor's name in `integration_cursors`, and the lease's key.
const CURSOR: &str = "crm";
/// Events read per look.
const BATCH: i64 = 100;
/// How long one look may hold the lease.
const LEASE: chrono::TimeDelta = chrono::TimeDelta::seconds(120);

pub struct CatalogFollower {
    store: Arc<dyn Store>,
    checks: Arc<CheckService>,
    bitrix24: Arc<Bitrix24>,
    amocrm: Arc<AmoCrm>,
    /// `integrations.follow_ms`.
    every: Duration,
    /// This instance's name in the lease.
    instance: String,
}

impl CatalogFollower {
    pub fn new(
        store: Arc<dyn Store>,
        checks: Arc<CheckService>,
        bitrix24: Arc<Bitrix24>,
        amocrm: Arc<AmoCrm>,
        every: Duration,
    ) -> CatalogFollower {
        CatalogFollower {
            store,
            checks,
            bitrix24,
            amocrm,
            every: every.max(Duration::from_millis(10)),
            instance: uuid::Uuid::now_v7().to_string(),
        }
    }

    /// Follows the feed every `integrations.follow_ms`.
    pub fn spawn(self: Arc<Self>) -> tokio::task::JoinHandle<()> {
        let every = self.every;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                if let Err(e) = self.follow_once().await {
                    tracing::error!(error = ?e, "cannot follow the feed for the CRMs");
                }
            }
        })
    }

    /// Writes back the status changes since the cursor; how many it wrote back (`0` also
    /// when another instance holds the lease).
    pub async fn follow_once(&self) -> Result<usize, StoreError> {
        // Nothing to follow for before a CRM is there: no writes every tick, and the cursor
        // starts at the end of the feed when the first one appears.
        if !self.amocrm.any_account() && !self.store.any_portal().await? {
            return Ok(0);
        }
        let now = Utc::now();
        if !self
            .store
            .claim_fetch("integrations", CURSOR, &self.instance, now, now + LEASE)
            .await?
        {
            return Ok(0);
        }
        let result = self.follow_batch().await;
        self.store
            .release_fetch("integrations", CURSOR, &self.instance)
            .await?;
        result
    }

    async fn follow_batch(&self) -> Result<usize, StoreError> {
        let cursor = self.store.integration_cursor(CURSOR).await?;
        let events = self
            .store
            .events_after(cursor, BATCH, None, Some(&["status_changed"]))
            .await?;
        let mut written = 0;
        for event in events {
            let link = |crm: &str| event.external_ids.get(crm).and_then(|v| v.as_str());
            let bitrix24 = link("bitrix24").and_then(parse_link);
            let amocrm = link("amocrm").and_then(parse_link);
            if (bitrix24.is_some() || amocrm.is_some())
                && let Some(check) = self.latest_check(&event.inn).await
            {
                let note = format!(
                    "Мониторинг: статус в каталоге {} → {} ({})",
                    status_word(&event.payload["from"]),
                    status_word(&event.payload["to"]),
                    event.payload["reason"].as_str().unwrap_or("")
                );
                let needs_person = matches!(
                    event.payload["to"].as_str(),
                    Some("under_review" | "suspended")
                );
                if let Some((member, company)) = bitrix24 {
                    self.bitrix24
                        .write_back(member, company, &check, Some(&note), needs_person)
                        .await;
                }
                if let Some((subdomain, company)) = amocrm {
                    self.amocrm
                        .write_back_company(subdomain, company, &check, &note, needs_person)
                        .await;
                }
                written += 1;
            }
            self.store.set_integration_cursor(CURSOR, event.seq).await?;
        }
        Ok(written)
    }

    async fn latest_check(&self, inn: &str) -> Option<Check> {
        let inn = crate::domain::Inn::parse(inn).ok()?;
        let json = self.checks.latest(&inn).await.ok()??;
        serde_json::from_slice(&json).ok()
    }
}

/// `"<member_id>:<company id>"` or `"<subdomain>:<company id>"`.
fn parse_link(link: &str) -> Option<(&str, u64)> {
    let (member, company) = link.trim().split_once(':')?;
    Some((member, company.parse().ok()?)).filter(|(m, _)| !m.is_empty())
}

fn status_word(status: &serde_json::Value) -> &'static str {
    match status.as_str() {
        Some("active") => "активен",
        Some("under_review") => "на проверке",
        Some("suspended") => "приостановлен",
        Some("removed") => "исключён",
        _ => "—",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_names_the_portal_and_the_company() {
        assert_eq!(parse_link("5f0c:3051"), Some(("5f0c", 3051)));
        assert_eq!(parse_link("3051"), None);
        assert_eq!(parse_link(":3051"), None);
        assert_eq!(parse_link("5f0c:abc"), None);
    }
}

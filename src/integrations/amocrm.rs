//! amoCRM / Kommo account webhooks (integrations.md §2.1, §2.4): a lead or a company added or
//! changed in the account is checked by the INN in its custom field, and the verdict goes
//! back through API v4 — the verdict fields, a note, and a task for the responsible user
//! when the decision is `review`.

use super::form::NestedForm;
use super::verdict::{comment, reasons_text};
use crate::check::{Check, CheckRequest, CheckService};
use crate::config::{AmoAccountSettings, AmoCrmSettings};
use crate::domain::{Decision, Inn};
use crate::outbound::{Outbound, Reply};
use crate::storage::{Store, StoreError};
use chrono::Utc;
use governor::{DefaultKeyedRateLimiter, RateLimiter};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use subtle::ConstantTimeEq;

/// Pauses before the retries of a call the account refused with 429.
const BACKOFF: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
];

#[derive(Debug, thiserror::Error)]
pub enum AmoError {
    #[error("no account has this webhook token")]
    Unauthorized,
    /// The account's webhooks have spent its checks per minute (the whole webhook refused).
    #[error("this account's checks per minute are spent")]
    OverBudget(crate::check::budget::OverBudget),
}

/// A lead or a company a webhook names, with what the webhook said about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// `leads` or `companies` (API v4's names).
    pub entity: &'static str,
    pub id: u64,
    pub responsible: Option<u64>,
    /// Custom field values by field id (the first value of each).
    pub fields: BTreeMap<u64, String>,
}

/// The leads and companies of a webhook: `leads[<action>][<n>][…]`, `companies[…]`, and
/// `contacts[…]` whose `type` is `company` (the classic format).
pub fn items(form: &NestedForm) -> Vec<Item> {
    #[derive(Default)]
    struct Raw {
        id: Option<u64>,
        kind: Option<String>,
        responsible: Option<u64>,
        field_ids: BTreeMap<String, u64>,
        field_values: BTreeMap<String, String>,
    }
    let mut raw: BTreeMap<(String, String, String), Raw> = BTreeMap::new();
    for (key, value) in form.pairs() {
        let segments = split_key(key);
        let [top, action, index, rest @ ..] = segments.as_slice() else {
            continue;
        };
        if !matches!(*top, "leads" | "companies" | "contacts") {
            continue;
        }
        let entry = raw
            .entry((top.to_string(), action.to_string(), index.to_string()))
            .or_default();
        match rest {
            ["id"] => entry.id = value.trim().parse().ok(),
            ["type"] => entry.kind = Some(value.trim().to_owned()),
            ["responsible_user_id"] => entry.responsible = value.trim().parse().ok(),
            ["custom_fields", n, "id"] => {
                if let Ok(id) = value.trim().parse() {
                    entry.field_ids.insert(n.to_string(), id);
                }
            }
            ["custom_fields", n, "values", "0", "value"] | ["custom_fields", n, "values", "0"] => {
                entry
                    .field_values
                    .entry(n.to_string())
                    .or_insert_with(|| value.trim().to_owned());
            }
            _ => {}
        }
    }
    let mut out: Vec<Item> = Vec::new();
    for ((top, _, _), r) in raw {
        let entity = match (top.as_str(), r.kind.as_deref()) {
            ("leads", _) => "leads",
            ("companies", _) | ("contacts", Some("company")) => "companies",
            _ => continue,
        };
        let Some(id) = r.id else { continue };
        let fields = r
            .field_ids
            .iter()
            .filter_map(|(n, id)| Some((*id, r.field_values.get(n)?.clone())))
            .collect();
        if !out.iter().any(|i| i.entity == entity && i.id == id) {
            out.push(Item {
                entity,
                id,
                responsible: r.responsible,
                fields,
            });
        }
    }
    out
}

/// `leads[status][0][custom_fields][1][id]` → `leads`, `status`, `0`, `custom_fields`, `1`, `id`.
fn split_key(key: &str) -> Vec<&str> {
    key.split(['[', ']']).filter(|s| !s.is_empty()).collect()
}

pub struct AmoCrm {
    store: Arc<dyn Store>,
    outbound: Arc<Outbound>,
    checks: Arc<CheckService>,
    settings: AmoCrmSettings,
    limiter: DefaultKeyedRateLimiter<String>,
    /// One OAuth refresh at a time.
    refreshing: tokio::sync::Mutex<()>,
    public_url: String,
}

impl AmoCrm {
    pub fn new(
        store: Arc<dyn Store>,
        outbound: Arc<Outbound>,
        checks: Arc<CheckService>,
        settings: &AmoCrmSettings,
        public_url: &str,
    ) -> AmoCrm {
        let quota = super::quota(settings.rps, 7.0, 1);
        AmoCrm {
            store,
            outbound,
            checks,
            settings: settings.clone(),
            limiter: RateLimiter::keyed(quota),
            refreshing: tokio::sync::Mutex::new(()),
            public_url: public_url.trim_end_matches('/').to_owned(),
        }
    }

    /// Whether any account is configured.
    pub fn any_account(&self) -> bool {
        !self.settings.accounts.is_empty()
    }

    /// A webhook: the account is the one whose `webhook_token` is `token` (compared in
    /// constant time); its leads and companies are checked in the background. Returns how
    /// many it names.
    pub fn webhook(self: &Arc<Self>, token: &str, form: &NestedForm) -> Result<usize, AmoError> {
        let (subdomain, account) = self
            .settings
            .accounts
            .iter()
            .filter(|(_, a)| !a.webhook_token.is_empty())
            .find(|(_, a)| bool::from(a.webhook_token.expose().as_bytes().ct_eq(token.as_bytes())))
            .ok_or(AmoError::Unauthorized)?;
        let wanted: Vec<Item> = items(form)
            .into_iter()
            .filter(|i| account.entity.is_empty() || account.entity == i.entity)
            .collect();
        let count = wanted.len();
        self.checks
            .budget()
            .admit(&format!("amocrm:{subdomain}"), count)
            .map_err(AmoError::OverBudget)?;
        for item in wanted {
            let service = Arc::clone(self);
            let (subdomain, account) = (subdomain.clone(), account.clone());
            tokio::spawn(async move { service.handle(&subdomain, &account, item).await });
        }
        Ok(count)
    }

    async fn handle(&self, subdomain: &str, account: &AmoAccountSettings, item: Item) {
        if let Err(e) = self.check_and_write(subdomain, account, &item).await {
            tracing::warn!(account = subdomain, entity = item.entity, id = item.id, error = %e,
                "amoCRM webhook item not written back");
        }
    }

    async fn check_and_write(
        &self,
        subdomain: &str,
        account: &AmoAccountSettings,
        item: &Item,
    ) -> Result<(), String> {
        let inn = match item.fields.get(&account.inn_field_id) {
            Some(inn) => inn.clone(),
            None => self.inn_of(subdomain, account, item).await?,
        };
        let inn = Inn::parse(&inn)
            .map_err(|e| format!("ИНН {inn}: {}", super::verdict::failure_text(&e)))?;
        let since =
            Utc::now() - chrono::TimeDelta::seconds(self.settings.quiet_s.min(86_400 * 365) as i64);
        if self
            .store
            .amocrm_written_since(subdomain, item.entity, item.id, inn.as_str(), since)
            .await
            .map_err(|e| e.to_string())?
        {
            // Our own write-back fired this webhook.
            return Ok(());
        }
        let check = self
            .checks
            .run(CheckRequest {
                inn: inn.clone(),
                max_age_s: None,
                profile: None,
                requested_by: "amocrm".into(),
            })
            .await
            .map_err(|e| super::verdict::failure_text(&e))?
            .check;
        let review = check.decision == Some(Decision::Review);
        self.write_back(subdomain, account, item, &check, None, review)
            .await?;
        self.store
            .record_amocrm_write(subdomain, item.entity, item.id, inn.as_str())
            .await
            .map_err(|e: StoreError| e.to_string())
    }

    /// The INN from the entity's custom fields, when the webhook did not carry it.
    async fn inn_of(
        &self,
        subdomain: &str,
        account: &AmoAccountSettings,
        item: &Item,
    ) -> Result<String, String> {
        let entity = self
            .call(
                subdomain,
                account,
                reqwest::Method::GET,
                &format!("/api/v4/{}/{}", item.entity, item.id),
                None,
            )
            .await?;
        entity["custom_fields_values"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|f| f["field_id"].as_u64() == Some(account.inn_field_id))
            .and_then(|f| {
                f["values"][0]["value"]
                    .as_str()
                    .map(str::trim)
                    .map(str::to_owned)
            })
            .filter(|inn| !inn.is_empty())
            .ok_or_else(|| format!("no INN in field {}", account.inn_field_id))
    }

    /// A catalog status change of a contractor linked to company `company` of account
    /// `subdomain`: the verdict with `note` on top; failures are logged.
    pub async fn write_back_company(
        &self,
        subdomain: &str,
        company: u64,
        check: &Check,
        note: &str,
        needs_person: bool,
    ) {
        let Some(account) = self.settings.accounts.get(&subdomain.to_lowercase()) else {
            tracing::warn!(
                account = subdomain,
                "a contractor is linked to an amoCRM account not configured"
            );
            return;
        };
        let item = Item {
            entity: "companies",
            id: company,
            responsible: None,
            fields: BTreeMap::new(),
        };
        if let Err(e) = self
            .write_back(subdomain, account, &item, check, Some(note), needs_person)
            .await
        {
            tracing::warn!(account = subdomain, company, error = %e, "amoCRM write-back failed");
        }
    }

    /// The verdict fields, a note (with `note` on top), and a task when it `needs_person`
    /// (for the item's responsible user, else the entity's).
    async fn write_back(
        &self,
        subdomain: &str,
        account: &AmoAccountSettings,
        item: &Item,
        check: &Check,
        note: Option<&str>,
        needs_person: bool,
    ) -> Result<(), String> {
        let path = format!("/api/v4/{}/{}", item.entity, item.id);
        let fields: Vec<Value> = [
            (
                account.decision_field_id,
                json!(check.decision.map(Decision::as_str)),
            ),
            (account.score_field_id, json!(check.score)),
            (
                account.checked_at_field_id,
                json!(check.checked_at.map(|t| t.timestamp())),
            ),
        ]
        .into_iter()
        .filter(|(id, _)| *id > 0)
        .map(|(id, value)| json!({"field_id": id, "values": [{"value": value}]}))
        .collect();
        if !fields.is_empty() {
            let body = json!({"custom_fields_values": fields});
            self.call(
                subdomain,
                account,
                reqwest::Method::PATCH,
                &path,
                Some(&body),
            )
            .await?;
        }
        let text = match note {
            Some(note) => format!("{note}\n{}", comment(check, &self.public_url)),
            None => comment(check, &self.public_url),
        };
        let note = json!([{"note_type": "common", "params": {"text": text}}]);
        self.call(
            subdomain,
            account,
            reqwest::Method::POST,
            &format!("{path}/notes"),
            Some(&note),
        )
        .await?;
        if needs_person {
            let responsible = match item.responsible {
                Some(user) => Some(user),
                None => self
                    .call(subdomain, account, reqwest::Method::GET, &path, None)
                    .await
                    .ok()
                    .and_then(|e| e["responsible_user_id"].as_u64()),
            };
            let mut task = json!({"text": format!("Контрагент на ручную проверку: {}", reasons_text(check)),
                "complete_till": (Utc::now() + chrono::TimeDelta::days(1)).timestamp(),
                "entity_id": item.id, "entity_type": item.entity, "task_type_id": 1});
            if let Some(user) = responsible {
                task["responsible_user_id"] = json!(user);
            }
            self.call(
                subdomain,
                account,
                reqwest::Method::POST,
                "/api/v4/tasks",
                Some(&json!([task])),
            )
            .await?;
        }
        Ok(())
    }

    /// One API v4 call through the account's limit; 429 is waited out and retried.
    async fn call(
        &self,
        subdomain: &str,
        account: &AmoAccountSettings,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, String> {
        let url = format!("{}{path}", base_url(subdomain, account));
        let timeout = Duration::from_millis(self.settings.timeout_ms.max(1));
        let mut backoff = BACKOFF.iter();
        let mut token = self.token(subdomain, account, None).await?;
        let mut refreshed = false;
        loop {
            self.limiter.until_key_ready(&subdomain.to_owned()).await;
            let headers = [("authorization", format!("Bearer {token}"))];
            let Reply {
                status,
                body: answer,
            } = self
                .outbound
                .exchange(method.clone(), &url, &headers, body, timeout)
                .await?;
            match status {
                200..=299 => return Ok(answer),
                429 => match backoff.next() {
                    Some(pause) => tokio::time::sleep(*pause).await,
                    None => return Err(format!("{method} {path}: HTTP 429 after retries")),
                },
                // An OAuth access token the account no longer takes: refreshed once.
                401 if account.access_token.is_empty() && !refreshed => {
                    token = self.token(subdomain, account, Some(&token)).await?;
                    refreshed = true;
                }
                _ => return Err(format!("{method} {path}: HTTP {status}")),
            }
        }
    }

    /// The token to call with: the long-lived one, else the stored OAuth access token,
    /// refreshed when it ends within a minute or when `refused` is the one in use.
    async fn token(
        &self,
        subdomain: &str,
        account: &AmoAccountSettings,
        refused: Option<&str>,
    ) -> Result<String, String> {
        if !account.access_token.is_empty() {
            return Ok(account.access_token.expose().to_owned());
        }
        let stored = |tokens: &Option<(String, String, chrono::DateTime<Utc>)>| {
            tokens.as_ref().is_some_and(|(access, _, until)| {
                refused != Some(access.as_str())
                    && *until - Utc::now() > chrono::TimeDelta::seconds(60)
            })
        };
        let tokens = self
            .store
            .amocrm_tokens(subdomain)
            .await
            .map_err(|e| e.to_string())?;
        if stored(&tokens) {
            return Ok(tokens.map(|t| t.0).unwrap_or_default());
        }
        // One refresh at a time: a refresh token works once.
        let _one = self.refreshing.lock().await;
        let tokens = self
            .store
            .amocrm_tokens(subdomain)
            .await
            .map_err(|e| e.to_string())?;
        if stored(&tokens) {
            return Ok(tokens.map(|t| t.0).unwrap_or_default());
        }
        let refresh = match &tokens {
            Some((_, refresh, _)) => refresh.clone(),
            None if !account.refresh_token.is_empty() => account.refresh_token.expose().to_owned(),
            None => return Err("no access_token and no OAuth refresh_token configured".into()),
        };
        let body = json!({"client_id": account.client_id, "client_secret": account.client_secret.expose(),
            "grant_type": "refresh_token", "refresh_token": refresh, "redirect_uri": account.redirect_uri});
        let reply = self
            .outbound
            .exchange(
                reqwest::Method::POST,
                &format!("{}/oauth2/access_token", base_url(subdomain, account)),
                &[],
                Some(&body),
                Duration::from_millis(self.settings.timeout_ms.max(1)),
            )
            .await?;
        let (Some(access), Some(refresh)) = (
            reply.body["access_token"].as_str(),
            reply.body["refresh_token"].as_str(),
        ) else {
            return Err(format!("the OAuth refresh answered HTTP {}", reply.status));
        };
        let expires_at = super::bitrix24::rest::expiry(&reply.body, Utc::now());
        self.store
            .save_amocrm_tokens(subdomain, access, refresh, expires_at)
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(account = subdomain, "amoCRM tokens refreshed");
        Ok(access.to_owned())
    }
}

/// The account's API address: `base_url`, else `https://<subdomain>.amocrm.ru`.
fn base_url(subdomain: &str, account: &AmoAccountSettings) -> String {
    if account.base_url.trim().is_empty() {
        format!("https://{subdomain}.amocrm.ru")
    } else {
        account.base_url.trim().trim_end_matches('/').to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leads_companies_and_company_contacts_are_read_with_their_fields() {
        let form = NestedForm::parse(
            b"leads[status][0][id]=4410023&leads[status][0][status_id]=60517731\
              &leads[status][0][responsible_user_id]=9120455\
              &leads[status][0][custom_fields][0][id]=512733\
              &leads[status][0][custom_fields][0][values][0][value]=7707083893\
              &contacts[update][0][id]=77&contacts[update][0][type]=company\
              &contacts[update][1][id]=78&contacts[update][1][type]=contact\
              &companies[add][0][id]=79&account[subdomain]=acmetrade",
        );
        let found = items(&form);
        assert_eq!(
            found,
            vec![
                Item {
                    entity: "companies",
                    id: 79,
                    responsible: None,
                    fields: BTreeMap::new()
                },
                Item {
                    entity: "companies",
                    id: 77,
                    responsible: None,
                    fields: BTreeMap::new()
                },
                Item {
                    entity: "leads",
                    id: 4410023,
                    responsible: Some(9120455),
                    fields: BTreeMap::from([(512733, "7707083893".to_owned())])
                },
            ]
        );
    }

    #[test]
    fn nonsense_keys_are_skipped() {
        let form = NestedForm::parse(b"leads=1&leads[add]=2&leads[add][0][id]=x&other[a][0][id]=5");
        assert!(items(&form).is_empty());
    }
}

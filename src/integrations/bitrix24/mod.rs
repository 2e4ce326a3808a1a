//! The Bitrix24 application (integrations.md §1): its install handler stores the portal's
//! tokens and registers the robot and the activity; the robot handler checks an INN inside
//! the portal's workflow and answers with `bizproc.event.send`, then writes the verdict
//! back to the company.

pub mod rest;

use super::form::NestedForm;
use super::verdict::{comment, log_line, reasons_text};
use crate::check::{Check, CheckRequest, CheckService};
use crate::config::Bitrix24Settings;
use crate::domain::{Decision, Inn};
use crate::outbound::Outbound;
use crate::storage::{Store, StoreError};
use chrono::{DateTime, Utc};
use rest::{Rest, RestError};
use serde_json::{Value, json};
use std::sync::Arc;
use subtle::ConstantTimeEq;

pub use crate::domain::crm::Portal;

#[derive(Debug, thiserror::Error)]
pub enum Bitrix24Error {
    /// An unknown portal, or a call whose `application_token` is not the portal's.
    #[error("the call does not come from an installed portal")]
    Unauthorized,
    #[error("`{field}`: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// The portal's `member_id` was installed from another domain.
    #[error("this portal was installed from another domain")]
    DomainChanged,
    /// `integrations.bitrix24.client_id` or `client_secret` is not set: no install can be
    /// proved.
    #[error("Bitrix24 is not configured: set integrations.bitrix24.client_id and client_secret")]
    NotConfigured,
    /// `app.info` names another application, or the OAuth server does not vouch for the
    /// tokens: the install is not ours.
    #[error("the install is not proved to be this application's: {0}")]
    Unproven(String),
    /// The portal's robot calls have spent its checks per minute.
    #[error("this portal's checks per minute are spent")]
    OverBudget(crate::check::budget::OverBudget),
    #[error("the portal refused or could not be reached: {0}")]
    Portal(#[from] RestError),
    #[error("storage failed")]
    Store(#[from] StoreError),
}

/// The UF fields the verdict is written to (`crm.company.userfield.add` prefixes `UF_CRM_`).
const FIELDS: [(&str, &str, &str); 3] = [
    (
        "KONTRAGENT_DECISION",
        "string",
        "Проверка контрагента: решение",
    ),
    ("KONTRAGENT_SCORE", "double", "Проверка контрагента: балл"),
    (
        "KONTRAGENT_CHECKED_AT",
        "datetime",
        "Проверка контрагента: дата",
    ),
];

/// What the robot call asked for, kept with its `event_token`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct RobotCall {
    event_token: String,
    member_id: String,
    inn: Option<String>,
    company_id: Option<u64>,
    profile: Option<String>,
    max_age_s: Option<u64>,
}

pub struct Bitrix24 {
    rest: Rest,
    store: Arc<dyn Store>,
    outbound: Arc<Outbound>,
    checks: Arc<CheckService>,
    settings: Bitrix24Settings,
    /// This service's address as the portal reaches it.
    public_url: String,
}

impl Bitrix24 {
    pub fn new(
        store: Arc<dyn Store>,
        outbound: Arc<Outbound>,
        checks: Arc<CheckService>,
        settings: &Bitrix24Settings,
        public_url: &str,
    ) -> Bitrix24 {
        Bitrix24 {
            rest: Rest::new(Arc::clone(&outbound), Arc::clone(&store), settings),
            store,
            outbound,
            checks,
            settings: settings.clone(),
            public_url: public_url.trim_end_matches('/').to_owned(),
        }
    }

    /// `ONAPPINSTALL`: the portal's tokens are proved by a call to the portal itself
    /// (`app.info`) before they are stored; then the robot, the activity and the company
    /// fields are registered.
    pub async fn install(&self, form: &NestedForm) -> Result<Portal, Bitrix24Error> {
        // Without both, the OAuth server cannot vouch for an install: app.info alone is the
        // caller's own word.
        if self.settings.client_id.trim().is_empty()
            || self.settings.client_secret.expose().is_empty()
        {
            return Err(Bitrix24Error::NotConfigured);
        }
        let field = |name: &'static str| {
            form.get(name)
                .map(str::to_owned)
                .ok_or(Bitrix24Error::Invalid {
                    field: name,
                    message: "required".into(),
                })
        };
        let domain = field("auth[domain]")?.to_lowercase();
        let client_endpoint = field("auth[client_endpoint]")?;
        let endpoint = self
            .outbound
            .check_url(&client_endpoint)
            .map_err(|message| Bitrix24Error::Invalid {
                field: "auth[client_endpoint]",
                message,
            })?;
        let host = endpoint.host_str().unwrap_or_default().to_lowercase();
        let with_port = endpoint
            .port()
            .map_or(host.clone(), |p| format!("{host}:{p}"));
        if domain != host && domain != with_port {
            return Err(Bitrix24Error::Invalid {
                field: "auth[client_endpoint]",
                message: format!("not on the portal's domain {domain}"),
            });
        }
        let portal = Portal {
            member_id: field("auth[member_id]")?,
            domain,
            client_endpoint: format!("{}/", endpoint.as_str().trim_end_matches('/')),
            access_token: field("auth[access_token]")?,
            refresh_token: field("auth[refresh_token]")?,
            application_token: field("auth[application_token]")?,
            expires_at: rest::expiry(
                &json!({"expires_in": form.get("auth[expires_in]"), "expires": form.get("auth[expires]")}),
                Utc::now(),
            ),
        };
        let known = self.store.portal(&portal.member_id).await?;
        if known.as_ref().is_some_and(|k| k.domain != portal.domain) {
            return Err(Bitrix24Error::DomainChanged);
        }
        let info = self.rest.call_as(&portal, "app.info", &json!({})).await?;
        let named = [&info["CODE"], &info["client_id"]]
            .into_iter()
            .filter_map(Value::as_str)
            .any(|code| code == self.settings.client_id);
        if !named {
            return Err(Bitrix24Error::Unproven(format!(
                "app.info names {} and not {}",
                info["CODE"], self.settings.client_id
            )));
        }
        let portal = self
            .rest
            .exchange_refresh_token(&portal)
            .await
            .map_err(|e| Bitrix24Error::Unproven(e.to_string()))?;
        self.store.save_portal(&portal).await?;
        self.register(&portal).await?;
        tracing::info!(portal = %portal.domain, "Bitrix24 application installed");
        Ok(portal)
    }

    /// The robot (deals, leads), the activity (company workflows) and the company fields.
    async fn register(&self, portal: &Portal) -> Result<(), Bitrix24Error> {
        let handler = format!("{}/v1/integrations/bitrix24/robot", self.public_url);
        for (method, document_types) in [
            (
                "bizproc.robot.add",
                json!([["crm", "CCrmDocumentDeal"], ["crm", "CCrmDocumentLead"]]),
            ),
            (
                "bizproc.activity.add",
                json!([["crm", "CCrmDocumentCompany"]]),
            ),
        ] {
            let params = robot_definition(&self.settings.robot_code, &handler, document_types);
            match self.rest.call(&portal.member_id, method, params).await {
                Ok(_) => {}
                Err(e) if e.code() == Some("ERROR_ACTIVITY_ALREADY_INSTALLED") => {}
                Err(e) => return Err(e.into()),
            }
        }
        if self.settings.uf_fields {
            for (name, kind, label) in FIELDS {
                let params = json!({"fields": {"FIELD_NAME": name, "USER_TYPE_ID": kind,
                    "EDIT_FORM_LABEL": label, "LIST_COLUMN_LABEL": label}});
                // A reinstall finds them there already: not a failure.
                if let Err(e) = self
                    .rest
                    .call(&portal.member_id, "crm.company.userfield.add", params)
                    .await
                {
                    tracing::warn!(portal = %portal.domain, field = name, error = %e, "company field not created");
                }
            }
        }
        Ok(())
    }

    /// A robot or activity call: refused unless it carries the portal's application token;
    /// a repeated `event_token` is answered without a second check. The check runs in the
    /// background; `Ok(false)` for a repeat.
    pub async fn robot(self: &Arc<Self>, form: &NestedForm) -> Result<bool, Bitrix24Error> {
        let member_id = form
            .get("auth[member_id]")
            .ok_or(Bitrix24Error::Unauthorized)?;
        let presented = form
            .get("auth[application_token]")
            .ok_or(Bitrix24Error::Unauthorized)?;
        let portal = self
            .store
            .portal(member_id)
            .await?
            .ok_or(Bitrix24Error::Unauthorized)?;
        if !bool::from(
            portal
                .application_token
                .as_bytes()
                .ct_eq(presented.as_bytes()),
        ) {
            return Err(Bitrix24Error::Unauthorized);
        }
        let event_token = form.get("event_token").ok_or(Bitrix24Error::Invalid {
            field: "event_token",
            message: "required (register the robot with USE_SUBSCRIPTION=Y)".into(),
        })?;
        let call = RobotCall {
            event_token: event_token.to_owned(),
            member_id: member_id.to_owned(),
            inn: form.get("properties[inn]").map(str::to_owned),
            company_id: form
                .get("properties[companyId]")
                .and_then(|id| id.parse().ok())
                .or_else(|| company_of(form.get("document_id[2]"))),
            profile: form.get("properties[profile]").map(str::to_owned),
            max_age_s: form
                .get("properties[maxAgeHours]")
                .and_then(|h| h.parse::<u64>().ok())
                .map(|h| h.saturating_mul(3600)),
        };
        self.checks
            .budget()
            .admit(&format!("bitrix24:{member_id}"), 1)
            .map_err(Bitrix24Error::OverBudget)?;
        let request = serde_json::to_string(&call).map_err(StoreError::from)?;
        if !self
            .store
            .claim_bitrix24_event(event_token, member_id, &request)
            .await?
        {
            return Ok(false);
        }
        let service = Arc::clone(self);
        tokio::spawn(async move { service.answer(call).await });
        Ok(true)
    }

    /// At start: robot calls a stopped process left unanswered (received before `before`)
    /// are answered now, each by the one instance that takes it over. Returns how many.
    pub async fn resume_unanswered(
        self: &Arc<Self>,
        before: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let mut resumed = 0;
        for request in self.store.unanswered_bitrix24_events(before).await? {
            let Ok(call) = serde_json::from_str::<RobotCall>(&request) else {
                continue;
            };
            if self.store.resume_bitrix24_event(&call.event_token).await? {
                let service = Arc::clone(self);
                tokio::spawn(async move { service.answer(call).await });
                resumed += 1;
            }
        }
        if resumed > 0 {
            tracing::warn!(
                resumed,
                "Bitrix24 robot calls left unanswered by a stop are answered now"
            );
        }
        Ok(resumed)
    }

    /// Runs the check and sends its verdict to the waiting workflow, then writes it back.
    async fn answer(&self, call: RobotCall) {
        let member = call.member_id.as_str();
        let outcome = self.check(&call).await;
        let (values, log, check) = match &outcome {
            Ok(check) => (
                return_values(check, &self.public_url),
                log_line(check),
                Some(check),
            ),
            Err(reason) => (
                json!({"decision": "review", "score": 0,
                       "reasons": format!("Проверка не выполнена: {reason}"),
                       "reportUrl": "", "checkedAt": Utc::now().to_rfc3339()}),
                format!("kontragent: проверка не выполнена: {reason}"),
                None,
            ),
        };
        let sent = self
            .rest
            .call(
                member,
                "bizproc.event.send",
                json!({"event_token": call.event_token, "return_values": values, "log_message": log}),
            )
            .await;
        if let (Some(check), Some(company)) = (check, call.company_id) {
            let review = check.decision == Some(Decision::Review);
            self.write_back(member, company, check, None, review).await;
        }
        let (state, error) = match (&outcome, &sent) {
            (_, Err(e)) => ("failed", Some(format!("bizproc.event.send: {e}"))),
            (Err(reason), Ok(_)) => ("failed", Some(reason.clone())),
            (Ok(_), Ok(_)) => ("answered", None),
        };
        if let Some(error) = &error {
            tracing::warn!(
                member_id = member,
                error,
                "Bitrix24 robot call not answered with a verdict"
            );
        }
        if let Err(e) = self
            .store
            .finish_bitrix24_event(
                &call.event_token,
                state,
                check.map(|c| c.id),
                error.as_deref(),
            )
            .await
        {
            tracing::error!(error = ?e, "cannot record the Bitrix24 robot call");
        }
    }

    /// The INN (given, else from the company's requisites), then the check.
    async fn check(&self, call: &RobotCall) -> Result<Check, String> {
        let inn = match (&call.inn, call.company_id) {
            (Some(inn), _) => inn.clone(),
            (None, Some(company)) => self.requisite_inn(&call.member_id, company).await?,
            (None, None) => return Err("нет ни ИНН, ни ID компании".into()),
        };
        let inn = Inn::parse(&inn).map_err(|e| {
            format!(
                "ИНН {inn}: {}",
                crate::integrations::verdict::failure_text(&e)
            )
        })?;
        let progress = json!({"event_token": call.event_token,
            "log_message": format!("kontragent: проверяется ИНН {inn}")});
        if let Err(e) = self
            .rest
            .call(&call.member_id, "bizproc.activity.log", progress)
            .await
        {
            tracing::warn!(error = %e, "cannot log progress to the workflow");
        }
        let checked = self
            .checks
            .run(CheckRequest {
                inn,
                max_age_s: call.max_age_s,
                profile: call.profile.clone(),
                requested_by: "bitrix24".into(),
            })
            .await
            .map_err(|e| crate::integrations::verdict::failure_text(&e))?;
        Ok(checked.check)
    }

    async fn requisite_inn(&self, member_id: &str, company: u64) -> Result<String, String> {
        let params = json!({"filter": {"ENTITY_TYPE_ID": 4, "ENTITY_ID": company},
                            "select": ["ID", "RQ_INN"]});
        let found = self
            .rest
            .call(member_id, "crm.requisite.list", params)
            .await
            .map_err(|e| {
                format!(
                    "реквизиты компании {company}: {}",
                    crate::integrations::verdict::failure_text(&e)
                )
            })?;
        found
            .as_array()
            .into_iter()
            .flatten()
            .find_map(|r| {
                r["RQ_INN"]
                    .as_str()
                    .map(str::trim)
                    .filter(|i| !i.is_empty())
            })
            .map(str::to_owned)
            .ok_or_else(|| format!("у компании {company} в реквизитах нет ИНН"))
    }

    /// The configured write-back of `check` to company `company`, with `note` at the top of
    /// the comment and a to-do when it `needs_person`; failures are logged, not retried.
    pub async fn write_back(
        &self,
        member_id: &str,
        company: u64,
        check: &Check,
        note: Option<&str>,
        needs_person: bool,
    ) {
        let mut calls = Vec::new();
        if self.settings.uf_fields {
            calls.push((
                "update",
                "crm.company.update",
                json!({"id": company, "fields": {
                    "UF_CRM_KONTRAGENT_DECISION": check.decision.map(Decision::as_str),
                    "UF_CRM_KONTRAGENT_SCORE": check.score,
                    "UF_CRM_KONTRAGENT_CHECKED_AT": check.checked_at.map(|t| t.to_rfc3339())},
                    "params": {"REGISTER_SONET_EVENT": "N"}}),
            ));
        }
        if self.settings.timeline_comment {
            calls.push((
                "comment",
                "crm.timeline.comment.add",
                json!({"fields": {"ENTITY_ID": company, "ENTITY_TYPE": "company",
                "COMMENT": match note {
                    Some(note) => format!("{note}\n{}", comment(check, &self.public_url)),
                    None => comment(check, &self.public_url),
                }}}),
            ));
        }
        if self.settings.todo_on_review && needs_person {
            // The company's responsible, read within the same batch.
            calls.push(("company", "crm.company.get", json!({"id": company})));
            calls.push((
                "todo",
                "crm.activity.todo.add",
                json!({"ownerTypeId": 4, "ownerId": company,
                    "deadline": (Utc::now() + chrono::TimeDelta::days(1)).to_rfc3339(),
                    "title": "Контрагент на ручную проверку",
                    "description": reasons_text(check),
                    "responsibleId": "$result[company][ASSIGNED_BY_ID]"}),
            ));
        }
        if calls.is_empty() {
            return;
        }
        match self.rest.batch(member_id, &calls).await {
            Ok(failed) => {
                for (name, error) in failed {
                    tracing::warn!(member_id, call = name, error, "Bitrix24 write-back failed");
                }
            }
            Err(e) => tracing::warn!(member_id, error = %e, "Bitrix24 write-back failed"),
        }
    }
}

/// The robot's and the activity's registration (integrations.md §1.4).
fn robot_definition(code: &str, handler: &str, document_types: Value) -> Value {
    json!({
        "CODE": code,
        "HANDLER": handler,
        "AUTH_USER_ID": 1,
        "USE_SUBSCRIPTION": "Y",
        "NAME": {"ru": "Проверка контрагента по ИНН", "en": "Counterparty check by INN"},
        "PROPERTIES": {
            "companyId": {"Name": {"ru": "ID компании", "en": "Company ID"}, "Type": "int",
                          "Default": "{=Document:COMPANY_ID}"},
            "inn": {"Name": {"ru": "ИНН (если пусто — из реквизитов компании)",
                             "en": "INN (empty: from the company's requisites)"},
                    "Type": "string", "Required": "N"},
            "profile": {"Name": {"ru": "Профиль правил", "en": "Rules profile"}, "Type": "string",
                        "Default": "default"},
            "maxAgeHours": {"Name": {"ru": "Допустимый возраст данных, ч", "en": "Data age allowed, h"},
                            "Type": "int", "Default": 24}
        },
        "RETURN_PROPERTIES": {
            "decision": {"Name": {"ru": "Решение", "en": "Decision"}, "Type": "select",
                         "Options": {"approve": "Одобрить", "reject": "Отклонить", "review": "На проверку"}},
            "score": {"Name": {"ru": "Балл", "en": "Score"}, "Type": "int"},
            "reasons": {"Name": {"ru": "Причины", "en": "Reasons"}, "Type": "text"},
            "reportUrl": {"Name": {"ru": "Ссылка на проверку", "en": "Check link"}, "Type": "string"},
            "checkedAt": {"Name": {"ru": "Дата проверки", "en": "Checked at"}, "Type": "datetime"}
        },
        "FILTER": {"INCLUDE": document_types}
    })
}

/// `COMPANY_3051` → 3051 (a company workflow's own document).
fn company_of(document: Option<&str>) -> Option<u64> {
    document?.strip_prefix("COMPANY_")?.parse().ok()
}

fn return_values(check: &Check, public_url: &str) -> Value {
    json!({
        "decision": check.decision.map(Decision::as_str),
        "score": check.score,
        "reasons": reasons_text(check),
        "reportUrl": format!("{public_url}{}", check.report_link()),
        "checkedAt": check.checked_at.map(|t| t.to_rfc3339()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_company_workflow_names_its_company_in_the_document_id() {
        assert_eq!(company_of(Some("COMPANY_3051")), Some(3051));
        assert_eq!(company_of(Some("DEAL_8812")), None);
        assert_eq!(company_of(Some("COMPANY_x")), None);
        assert_eq!(company_of(None), None);
    }

    #[test]
    fn the_robot_waits_for_the_answer_and_returns_the_verdict_fields() {
        let robot = robot_definition("kontragent_check", "https://dd.example.ru/h", json!([]));
        assert_eq!(robot["USE_SUBSCRIPTION"], "Y");
        let returned: Vec<&String> = robot["RETURN_PROPERTIES"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(
            returned,
            ["checkedAt", "decision", "reasons", "reportUrl", "score"]
        );
    }
}

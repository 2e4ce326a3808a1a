//! `/v1/integrations/*`: what a CRM calls. These routes take no API key: a Bitrix24 portal
//! proves itself with its tokens (the install by a call back to the portal, a robot call by
//! the portal's `application_token`), an amoCRM account by the secret token in its URL.

use super::AppState;
use super::errors::{ApiError, Problem};
use crate::integrations::amocrm::AmoError;
use crate::integrations::bitrix24::Bitrix24Error;
use crate::integrations::form::NestedForm;
use actix_web::{HttpResponse, post, web};
use serde::Serialize;

impl From<Bitrix24Error> for ApiError {
    fn from(e: Bitrix24Error) -> ApiError {
        let message = e.to_string();
        match e {
            Bitrix24Error::Unauthorized => ApiError::Refused {
                status: 401,
                code: "bitrix24_unauthorized",
                message,
            },
            Bitrix24Error::Invalid { field, message } => ApiError::InvalidField { field, message },
            Bitrix24Error::DomainChanged => ApiError::Refused {
                status: 409,
                code: "bitrix24_domain_changed",
                message,
            },
            Bitrix24Error::NotConfigured => ApiError::Refused {
                status: 403,
                code: "bitrix24_not_configured",
                message,
            },
            Bitrix24Error::Unproven(_) => ApiError::Refused {
                status: 403,
                code: "bitrix24_install_unproven",
                message,
            },
            Bitrix24Error::OverBudget(over) => over.into(),
            Bitrix24Error::Portal(_) => ApiError::Refused {
                status: 502,
                code: "bitrix24_unreachable",
                message,
            },
            Bitrix24Error::Store(e) => ApiError::internal(e),
        }
    }
}

impl From<AmoError> for ApiError {
    fn from(e: AmoError) -> ApiError {
        match e {
            AmoError::OverBudget(over) => over.into(),
            AmoError::Unauthorized => ApiError::Refused {
                status: 401,
                code: "amocrm_unauthorized",
                message: e.to_string(),
            },
        }
    }
}

/// What a portal is told.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Accepted {
    /// `installed`, `checking`, or `duplicate` (this `event_token` was answered before).
    #[schema(example = "checking")]
    pub status: &'static str,
}

/// The application's install handler (`ONAPPINSTALL`, form-encoded `auth[...]`): the portal
/// must name our application in `app.info` (`CODE` = `integrations.bitrix24.client_id`) and
/// the OAuth server must exchange the refresh token for our `client_secret` (when set); then
/// the tokens are stored per `auth[member_id]`, and the robot, the activity and the company
/// fields are registered.
#[utoipa::path(
    tag = "integrations",
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
        description = "`event=ONAPPINSTALL&auth[member_id]=…&auth[access_token]=…&auth[refresh_token]=…&auth[application_token]=…&auth[domain]=…&auth[client_endpoint]=…&auth[expires_in]=3600`"),
    responses(
        (status = 200, description = "Installed", body = Accepted),
        (status = 403, description = "`bitrix24_not_configured`: `integrations.bitrix24.client_id` or `client_secret` is not set; `bitrix24_install_unproven`: `app.info` names another application, or the OAuth server does not exchange the refresh token for ours (or names another `member_id`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`bitrix24_domain_changed`: this `member_id` was installed from another domain", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_field`: a required `auth[...]` key is missing, or `client_endpoint` is refused or not on the portal's domain", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "`bitrix24_unreachable`: the portal refused the tokens or could not be reached", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/integrations/bitrix24/install")]
pub async fn bitrix24_install(
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let form = NestedForm::parse(&body);
    state.bitrix24.install(&form).await?;
    let mut note = super::audit::AuditNote::action("bitrix24.install");
    note.actor = Some("bitrix24".into());
    let portal = [form.get("auth[member_id]"), form.get("auth[domain]")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    Ok(note.detail(portal).on(HttpResponse::Ok().json(Accepted {
        status: "installed",
    })))
}

/// The robot's and the activity's handler: answers at once, checks the INN
/// (`properties[inn]`, else the requisites of `properties[companyId]`) in the background and
/// sends the verdict with `bizproc.event.send` (`decision`, `score`, `reasons`,
/// `reportUrl`, `checkedAt`); one check per `event_token`.
#[utoipa::path(
    tag = "integrations",
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
        description = "`event_token=…&document_id[2]=DEAL_8812&properties[inn]=7707083893&properties[companyId]=3051&auth[member_id]=…&auth[application_token]=…`"),
    responses(
        (status = 200, description = "Accepted: the verdict follows with `bizproc.event.send`", body = Accepted),
        (status = 401, description = "`bitrix24_unauthorized`: unknown portal or wrong `auth[application_token]`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_field`: no `event_token`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/integrations/bitrix24/robot")]
pub async fn bitrix24_robot(
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let started = state.bitrix24.robot(&NestedForm::parse(&body)).await?;
    Ok(HttpResponse::Ok().json(Accepted {
        status: if started { "checking" } else { "duplicate" },
    }))
}

/// What an amoCRM account is told.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebhookAccepted {
    /// The leads and companies of the webhook that will be checked in the background.
    #[schema(example = 1)]
    pub items: usize,
}

/// An amoCRM / Kommo account webhook (form-encoded, PHP-style keys: `leads[…]`,
/// `companies[…]`, `contacts[…]` with `type=company`). The `{token}` names the account
/// (`integrations.amocrm.accounts.<subdomain>.webhook_token`). Answers at once; each lead or
/// company is checked by the INN in its custom field and the verdict written back.
#[utoipa::path(
    tag = "integrations",
    params(("token" = String, Path, description = "The account's webhook token")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
        description = "`leads[status][0][id]=4410023&leads[status][0][custom_fields][0][id]=512733&leads[status][0][custom_fields][0][values][0][value]=7707083893&account[subdomain]=acmetrade`"),
    responses(
        (status = 200, description = "Accepted", body = WebhookAccepted),
        (status = 401, description = "`amocrm_unauthorized`: no account has this token", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/integrations/amocrm/webhook/{token}")]
pub async fn amocrm_webhook(
    state: web::Data<AppState>,
    token: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let items = state.amocrm.webhook(&token, &NestedForm::parse(&body))?;
    Ok(HttpResponse::Ok().json(WebhookAccepted { items }))
}

//! Every route's properties, declared once: who may call it and whether it replays an
//! `Idempotency-Key`. The guard looks a request up by the route the router itself matched
//! (`match_pattern()` on the normalised path), never by the raw path; a matched route with
//! no line here is refused, so a route added without one fails closed (a test enumerates
//! the app's routes and the spec's operations against this table).

use crate::auth::Scope;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No key: probes, docs and the spec.
    Open,
    /// No API key: a CRM proves itself another way (a Bitrix24 portal's tokens, an amoCRM
    /// account's token in the URL; see `api::integrations`).
    Integration,
    /// An API key with this scope (or `admin`). `Scope::Public` routes are also limited per
    /// client IP.
    Key(Scope),
    /// A key with this scope, or the signed link of the one report it names (`?sig=`, see
    /// `check::links`): what a browser opens from an e-mail, a CRM or a spreadsheet.
    KeyOrLink(Scope),
}

/// What the audit trail keeps of a route's successful calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audit {
    /// Nothing: a read of no personal data.
    No,
    /// An entry per successful call (`api::audit::trail`): a write, or a read of personal
    /// data (applications).
    Entry,
    /// The write is its own record of who asked: a check (`requested_by`), an application
    /// (its timeline's `received`).
    OwnRecord,
}

/// One route: its method, the router's pattern, and what the middleware does with it.
#[derive(Debug)]
pub struct Route {
    pub method: &'static str,
    pub pattern: &'static str,
    pub access: Access,
    /// A write a client may retry with an `Idempotency-Key`.
    pub idempotent: bool,
    /// It starts checks, taken from the caller's budget (`check::budget`): 429 past it.
    pub starts_checks: bool,
    pub audit: Audit,
}

const fn read(method: &'static str, pattern: &'static str, scope: Scope) -> Route {
    Route {
        method,
        pattern,
        access: Access::Key(scope),
        idempotent: false,
        starts_checks: false,
        audit: Audit::No,
    }
}

/// A read of personal data: audited.
const fn personal(method: &'static str, pattern: &'static str, scope: Scope) -> Route {
    Route {
        audit: Audit::Entry,
        ..read(method, pattern, scope)
    }
}

/// A write that honours `Idempotency-Key`; audited.
const fn write(method: &'static str, pattern: &'static str, scope: Scope) -> Route {
    Route {
        method,
        pattern,
        access: Access::Key(scope),
        idempotent: true,
        starts_checks: false,
        audit: Audit::Entry,
    }
}

/// A write that is idempotent by its nature (`PATCH`, `DELETE`); audited.
const fn change(method: &'static str, pattern: &'static str, scope: Scope) -> Route {
    Route {
        idempotent: false,
        ..write(method, pattern, scope)
    }
}

/// A write that starts checks; audited.
const fn checks(method: &'static str, pattern: &'static str, scope: Scope) -> Route {
    Route {
        starts_checks: true,
        ..write(method, pattern, scope)
    }
}

/// A check (or an application screened by one): the check's row records who asked.
const fn checked(method: &'static str, pattern: &'static str, scope: Scope) -> Route {
    Route {
        audit: Audit::OwnRecord,
        ..checks(method, pattern, scope)
    }
}

const fn open(method: &'static str, pattern: &'static str, access: Access) -> Route {
    Route {
        method,
        pattern,
        access,
        idempotent: false,
        starts_checks: false,
        audit: Audit::No,
    }
}

/// A CRM's call that starts checks (recorded as theirs: `requested_by`).
const fn crm(pattern: &'static str) -> Route {
    Route {
        starts_checks: true,
        audit: Audit::OwnRecord,
        ..open("POST", pattern, Access::Integration)
    }
}

use Scope::*;

/// Every route the app serves. `POST`s that only compute (validate, dry-run) are reads:
/// nothing is written, so there is nothing to replay.
pub const ROUTES: &[Route] = &[
    open("GET", "/healthz", Access::Open),
    open("GET", "/readyz", Access::Open),
    open("GET", "/openapi.json", Access::Open),
    open("GET", "/docs", Access::Open),
    open("GET", "/docs/{_:.*}", Access::Open),
    read("GET", "/metrics", Metrics),
    checked("POST", "/v1/checks", Checks),
    read("GET", "/v1/checks", Checks),
    read("GET", "/v1/checks/{id}", Checks),
    checked("POST", "/v1/checks/batch", Checks),
    read("GET", "/v1/batches/{id}", Checks),
    read("GET", "/v1/counterparties/{inn}", Checks),
    read("GET", "/v1/checks/{id}/callbacks", Checks),
    Route {
        access: Access::KeyOrLink(Checks),
        ..read("GET", "/v1/checks/{id}/report", Checks)
    },
    read("GET", "/v1/checks/{id}/evidence", Checks),
    read("GET", "/v1/counterparties/{inn}/report", Checks),
    read("GET", "/v1/rules", RulesAdmin),
    read("GET", "/v1/rules/versions", RulesAdmin),
    read("GET", "/v1/rules/versions/{version}", RulesAdmin),
    write("POST", "/v1/rules/reload", RulesAdmin),
    read("POST", "/v1/rules/validate", RulesAdmin),
    read("POST", "/v1/rules/dry-run", RulesAdmin),
    read("POST", "/v1/rules/dry-run/monitoring", RulesAdmin),
    read("GET", "/v1/rules/diff", RulesAdmin),
    write("POST", "/v1/rules/rollback", RulesAdmin),
    read("POST", "/v1/rules/explain", RulesAdmin),
    write("POST", "/v1/catalog", CatalogWrite),
    read("GET", "/v1/catalog", CatalogRead),
    read("GET", "/v1/catalog/{inn}", CatalogRead),
    write("POST", "/v1/catalog/{inn}/status", CatalogWrite),
    write("POST", "/v1/catalog/{inn}/feedback", CatalogWrite),
    checks("POST", "/v1/catalog/{inn}/recheck", CatalogWrite),
    read("GET", "/v1/catalog/{inn}/events", CatalogRead),
    read("GET", "/v1/events", CatalogRead),
    write("POST", "/v1/monitoring/run", MonitoringAdmin),
    read("GET", "/v1/monitoring/runs/{id}", MonitoringAdmin),
    read("GET", "/v1/audit", Admin),
    read("GET", "/v1/sources/health", Admin),
    write("POST", "/v1/webhooks", WebhooksAdmin),
    read("GET", "/v1/webhooks", WebhooksAdmin),
    read("GET", "/v1/webhooks/{id}", WebhooksAdmin),
    change("PATCH", "/v1/webhooks/{id}", WebhooksAdmin),
    change("DELETE", "/v1/webhooks/{id}", WebhooksAdmin),
    write("POST", "/v1/webhooks/{id}/rotate-secret", WebhooksAdmin),
    write("POST", "/v1/webhooks/{id}/test", WebhooksAdmin),
    read("GET", "/v1/webhooks/{id}/deliveries", WebhooksAdmin),
    write(
        "POST",
        "/v1/webhooks/{id}/deliveries/{delivery_id}/retry",
        WebhooksAdmin,
    ),
    read("GET", "/v1/public/catalog", Public),
    checked("POST", "/v1/public/applications", Public),
    personal("GET", "/v1/applications", Applications),
    personal("GET", "/v1/applications/{id}", Applications),
    write("POST", "/v1/applications/{id}/actions", Applications),
    // A CRM sends no Idempotency-Key: the robot dedupes by `event_token`, the install by
    // `member_id`.
    Route {
        audit: Audit::Entry,
        ..open(
            "POST",
            "/v1/integrations/bitrix24/install",
            Access::Integration,
        )
    },
    crm("/v1/integrations/bitrix24/robot"),
    crm("/v1/integrations/amocrm/webhook/{token}"),
];

/// The route declared for a method on a matched pattern.
pub fn find(method: &str, pattern: &str) -> Option<&'static Route> {
    ROUTES
        .iter()
        .find(|r| r.method == method && r.pattern == pattern)
}

/// The methods declared on a pattern, for `Allow` (empty: no such route).
pub fn methods(pattern: &str) -> Vec<&'static str> {
    ["GET", "POST", "PUT", "PATCH", "DELETE"]
        .into_iter()
        .filter(|m| find(m, pattern).is_some())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_route_is_declared_once() {
        for (i, a) in ROUTES.iter().enumerate() {
            assert!(
                ROUTES[i + 1..]
                    .iter()
                    .all(|b| (a.method, a.pattern) != (b.method, b.pattern)),
                "{} {} is declared twice",
                a.method,
                a.pattern
            );
        }
    }

    /// The table and the app agree: every operation of the spec has its line, and every line
    /// is an operation of the spec or one of the docs' own routes.
    #[test]
    fn the_table_is_the_apps_routes() {
        let mut served = vec![
            ("GET", "/openapi.json".to_owned()),
            ("GET", "/docs".to_owned()),
            ("GET", "/docs/{_:.*}".to_owned()),
        ];
        for (method, path) in crate::api::operations(&crate::api::openapi()) {
            assert!(find(method, &path).is_some(), "{method} {path} has no line");
            served.push((method, path));
        }
        for r in ROUTES {
            assert!(
                served.iter().any(|(m, p)| *m == r.method && p == r.pattern),
                "{} {} is not a route of the app",
                r.method,
                r.pattern
            );
        }
    }

    #[test]
    fn only_writes_replay_a_key() {
        for r in ROUTES.iter().filter(|r| r.idempotent) {
            assert_eq!(r.method, "POST", "{}", r.pattern);
        }
    }
}

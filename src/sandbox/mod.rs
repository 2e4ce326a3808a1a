//! `kontragent sandbox`: a local fake of the registries' endpoints (same paths, same
//! formats) answering from hand-written fixtures, so every scenario can be tried and
//! tested offline. Unknown INNs are "not found".

mod scenarios;

pub use scenarios::{Plan, SCENARIOS, Scenario};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, get, post, web};
use chrono::Utc;
use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::Mutex;

/// A started flow: which INN a token stands for and how often it was polled.
struct Pending {
    inn: String,
    polls: u32,
}

#[derive(Default)]
struct SandboxState {
    pending: Mutex<HashMap<String, Pending>>,
    counter: std::sync::atomic::AtomicU64,
    /// Searches seen per (registry, INN), for plans that change after the first.
    searches: Mutex<HashMap<(&'static str, String), u32>>,
}

impl SandboxState {
    fn open(&self, inn: &str) -> String {
        let n = self
            .counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let token = format!(
            "{:016X}{:08X}",
            inn[..inn.len().min(12)].parse::<u64>().unwrap_or(0),
            n
        );
        self.lock().insert(
            token.clone(),
            Pending {
                inn: inn.to_owned(),
                polls: 0,
            },
        );
        token
    }

    /// The INN behind a token and how many polls came before this one.
    fn poll(&self, token: &str) -> Option<(String, u32)> {
        let mut map = self.lock();
        let p = map.get_mut(token)?;
        p.polls += 1;
        Some((p.inn.clone(), p.polls - 1))
    }

    /// Resolves `AfterFirst` by how often this registry was searched for this INN.
    fn resolve(&self, registry: &'static str, inn: &str, plan: Plan) -> Plan {
        let Plan::AfterFirst(first, later) = plan else {
            return plan;
        };
        let mut seen = match self.searches.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let n = seen.entry((registry, inn.to_owned())).or_insert(0);
        *n += 1;
        if *n == 1 { *first } else { *later }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Pending>> {
        match self.pending.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

type Form = web::Form<HashMap<String, String>>;

/// Starts the sandbox on `listener`.
pub fn serve(listener: TcpListener) -> std::io::Result<actix_web::dev::Server> {
    let state = web::Data::new(SandboxState::default());
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .service(scenario_list)
            .service(demo_form)
            .service(egrul_index)
            .service(egrul_search)
            .service(egrul_result)
            .service(pb_search)
            .service(pb_card)
            .service(fedresurs_search)
            .service(fedresurs_card)
            .service(fedresurs_publications)
            .service(bankrot_page)
            .service(bankrot_search)
            .service(kad_search)
    })
    .workers(2)
    // A process that runs it beside its own work (`check --sandbox`, `batch --sandbox`)
    // handles Ctrl-C itself; the sandbox must not stop under it.
    .disable_signals()
    .listen(listener)?
    .run())
}

/// Fills the placeholders of a fixture: `{{date:-N}}` (N days ago, dd.mm.yyyy),
/// `{{iso:-N}}` (the same as fedresurs writes it), and a scenario's identity: `{{inn}}`,
/// `{{inn12}}`, `{{ogrn}}`, `{{name}}` (raw, for HTML), `{{name-json}}`, `{{core}}`.
fn render(text: &str, scenario: Option<&Scenario>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            rest = &rest[start..];
            break;
        };
        let key = &after[..end];
        let days = |prefix: &str| key.strip_prefix(prefix).and_then(|n| n.parse::<i64>().ok());
        let day = |n: i64| Utc::now().date_naive() + chrono::Duration::days(n);
        let (ogrn, name, core) = scenario.map(|s| s.identity).unwrap_or_default();
        let inn = scenario.map(|s| s.inn).unwrap_or_default();
        match key {
            "inn" => out.push_str(inn),
            "inn12" => out.push_str(&format!("{inn:0>12}")),
            "ogrn" => out.push_str(ogrn),
            "name" => out.push_str(name),
            "name-json" => out.push_str(name.replace('"', "\\\"").as_str()),
            "core" => out.push_str(core),
            _ if days("date:").is_some() => out.push_str(
                &day(days("date:").unwrap_or(0))
                    .format("%d.%m.%Y")
                    .to_string(),
            ),
            _ if days("iso:").is_some() => out.push_str(
                &day(days("iso:").unwrap_or(0))
                    .format("%Y-%m-%dT10:00:00.1")
                    .to_string(),
            ),
            _ => {
                out.push_str("{{");
                out.push_str(key);
                out.push_str("}}");
            }
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

fn json_for(body: &str, scenario: Option<&Scenario>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json; charset=utf-8")
        .body(render(body, scenario))
}

fn json(body: &str) -> HttpResponse {
    json_for(body, None)
}

fn status(code: u16) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(code).unwrap_or_default()).finish()
}

fn raw(body: &'static str, content_type: &'static str) -> HttpResponse {
    HttpResponse::Ok().content_type(content_type).body(body)
}

/// Answers the first request of a flow when the plan says it fails there.
async fn first_step_failure(plan: Plan) -> Option<HttpResponse> {
    match plan {
        Plan::FirstStep(body) => Some(json(body)),
        Plan::Status(code) => Some(status(code)),
        Plan::StatusWith(code, body) => Some(
            HttpResponse::build(actix_web::http::StatusCode::from_u16(code).unwrap_or_default())
                .content_type("application/json; charset=utf-8")
                .body(body),
        ),
        Plan::Slow => {
            tokio::time::sleep(scenarios::SLOW_ANSWER).await;
            Some(json("{}"))
        }
        _ => None,
    }
}

fn plan(inn: &str, pick: fn(&Scenario) -> Plan) -> (Plan, Option<&'static Scenario>) {
    let scenario = scenarios::find(inn);
    (scenario.map(pick).unwrap_or(Plan::Absent), scenario)
}

/// A registration form, served from the sandbox's origin (not the API's), that posts to
/// `POST /v1/public/applications`: the website's side of the process, to try in a browser.
#[get("/demo/form")]
async fn demo_form() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(include_str!("demo-form.html"))
}

#[get("/")]
async fn scenario_list() -> HttpResponse {
    let mut html = String::from(
        "<!DOCTYPE html><html><head><meta charset=utf-8><title>kontragent sandbox</title></head><body>\
         <h1>kontragent sandbox</h1><p>Fake egrul.nalog.ru, pb.nalog.ru, fedresurs.ru, \
         bankrot.fedresurs.ru and kad.arbitr.ru. Scenario INNs:</p>\
         <table border=1 cellpadding=4><tr><th>INN</th><th>scenario</th><th>default rules decide</th></tr>",
    );
    for s in SCENARIOS {
        html.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            s.inn, s.title, s.expect
        ));
    }
    html.push_str(&format!(
        "</table><p>Any 10-digit INN starting with {} goes into bankruptcy on its second check. \
         Any other INN is not found.</p></body></html>",
        scenarios::TURNING_PREFIX
    ));
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html)
}

// ── egrul.nalog.ru ──────────────────────────────────────────────────────────────

const EGRUL_EMPTY: &str = include_str!("../../fixtures/egrul-empty.json");

#[get("/index.html")]
async fn egrul_index() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Set-Cookie", "JSESSIONID=SANDBOX0001; Path=/; HttpOnly"))
        .content_type("text/html; charset=utf-8")
        .body("<!DOCTYPE html><html><body>ЕГРЮЛ (sandbox)</body></html>")
}

#[post("/")]
async fn egrul_search(state: web::Data<SandboxState>, form: Form) -> HttpResponse {
    let inn = form
        .get("query")
        .map(|q| q.trim().to_owned())
        .unwrap_or_default();
    if let Some(failure) = first_step_failure(plan(&inn, |s| s.egrul).0).await {
        return failure;
    }
    let token = state.open(&inn);
    json(&format!("{{\"t\":\"{token}\",\"captchaRequired\":false}}"))
}

#[get("/search-result/{token}")]
async fn egrul_result(state: web::Data<SandboxState>, token: web::Path<String>) -> HttpResponse {
    let Some((inn, polls_before)) = state.poll(&token) else {
        return HttpResponse::NotFound()
            .content_type("text/html")
            .body("<html><body>404</body></html>");
    };
    match plan(&inn, |s| s.egrul) {
        (Plan::Answer { wait: true, .. }, _) if polls_before == 0 => json(r#"{"status":"wait"}"#),
        (Plan::Answer { search, .. }, s) => json_for(search, s),
        (Plan::Active, s) => json_for(include_str!("../../fixtures/egrul-active-template.json"), s),
        (Plan::Garbage(body, content_type), _) => raw(body, content_type),
        _ => json(EGRUL_EMPTY),
    }
}

// ── pb.nalog.ru ────────────────────────────────────────────────────────────────

const PB_EMPTY: &str = include_str!("../../fixtures/pb-search-empty.json");
const PB_ACTIVE_SEARCH: &str = include_str!("../../fixtures/pb-search-active-template.json");
const PB_ACTIVE_CARD: &str = include_str!("../../fixtures/pb-card-active-template.json");

#[post("/search-proc.json")]
async fn pb_search(state: web::Data<SandboxState>, form: Form) -> HttpResponse {
    if form.get("method").map(String::as_str) == Some("get-response") {
        let id = form.get("id").cloned().unwrap_or_default();
        let Some((inn, polls_before)) = state.poll(&id) else {
            return json(r#"{"ERRORS":{"id":["Запрос не найден"]}}"#);
        };
        return match plan(&inn, |s| s.pb) {
            (Plan::Answer { wait: true, .. }, _) if polls_before == 0 => json("null"),
            (Plan::Answer { search, .. }, s) => json_for(search, s),
            (Plan::Active | Plan::CardStatus(_), s) => json_for(PB_ACTIVE_SEARCH, s),
            (Plan::Garbage(body, content_type), _) => raw(body, content_type),
            _ => json(PB_EMPTY),
        };
    }
    let inn = ["queryUl", "queryIp", "queryAll"]
        .iter()
        .find_map(|k| form.get(*k))
        .map(|q| q.trim().to_owned())
        .unwrap_or_default();
    let (pb, scenario) = plan(&inn, |s| s.pb);
    if let Some(failure) = first_step_failure(pb).await {
        return failure;
    }
    if let Plan::Answer {
        search, sync: true, ..
    } = pb
    {
        return json_for(search, scenario);
    }
    let id = state.open(&inn);
    json(&format!("{{\"id\":\"{id}\",\"captchaRequired\":false}}"))
}

/// The scenario whose search answer carries this card token.
fn scenario_of_pb_token(token: &str) -> Option<&'static Scenario> {
    if let Some(inn) = token
        .strip_prefix("PBTOKEN")
        .filter(|i| i.bytes().all(|b| b.is_ascii_digit()))
    {
        return scenarios::find(inn);
    }
    SCENARIOS.iter().find(|s| {
        matches!(s.pb, Plan::Answer { search, .. } if search.contains(&format!("\"token\":\"{token}\"")))
    })
}

#[post("/company-proc.json")]
async fn pb_card(state: web::Data<SandboxState>, form: Form) -> HttpResponse {
    let token = form.get("token").cloned().unwrap_or_default();
    match form.get("method").map(String::as_str) {
        Some("get-request") => {
            let Some(scenario) = scenario_of_pb_token(&token) else {
                return json(r#"{"ERRORS":{"token":["Неверный токен"]}}"#);
            };
            let id = state.open(scenario.inn);
            json(&format!("{{\"id\":\"{id}\",\"token\":\"{token}\"}}"))
        }
        Some("get-response") => {
            let id = form.get("id").cloned().unwrap_or_default();
            let Some((inn, polls_before)) = state.poll(&id) else {
                return json(r#"{"ERRORS":{"id":["Запрос не найден"]}}"#);
            };
            match plan(&inn, |s| s.pb) {
                (Plan::Answer { wait: true, .. }, _) if polls_before == 0 => json("{}"),
                (
                    Plan::Answer {
                        card: Some(card), ..
                    },
                    s,
                ) => json_for(card, s),
                (Plan::Active, s) => json_for(PB_ACTIVE_CARD, s),
                (Plan::CardStatus(code), _) => status(code),
                _ => json(r#"{"ERRORS":{"pbCaptcha":["Требуется ввести цифры с картинки"]}}"#),
            }
        }
        _ => {
            HttpResponse::BadRequest().json(serde_json::json!({"ERRORS": {"method": ["unknown"]}}))
        }
    }
}

// ── fedresurs.ru ───────────────────────────────────────────────────────────────

type Query = web::Query<HashMap<String, String>>;

/// fedresurs answers a bare 403 to a request without a Referer (registries.md §4.1).
fn has_referer(req: &HttpRequest, host: &str) -> bool {
    req.headers()
        .get("referer")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|r| r.contains(host))
}

#[get("/backend/{collection:companies|persons}")]
async fn fedresurs_search(req: HttpRequest, query: Query) -> HttpResponse {
    if !has_referer(&req, "fedresurs.ru") {
        return status(403);
    }
    let inn = query
        .get("searchString")
        .or_else(|| query.get("code"))
        .cloned()
        .unwrap_or_default();
    let (fed, scenario) = plan(inn.trim(), |s| s.fedresurs);
    if let Some(failure) = first_step_failure(fed).await {
        return failure;
    }
    match fed {
        Plan::Fedresurs { search, .. } => json_for(search, scenario),
        Plan::Garbage(body, content_type) => raw(body, content_type),
        _ => json(include_str!("../../fixtures/fedresurs-empty.json")),
    }
}

/// The scenario whose fedresurs search answer carries this guid.
fn scenario_of_guid(guid: &str) -> Option<(Plan, &'static Scenario)> {
    if let Some(found) = static_scenario_of_guid(guid) {
        return Some(found);
    }
    // Templated guids end with the INN, zero-padded to 12 digits.
    let inn = guid.rsplit('-').next()?.trim_start_matches("00");
    let s = scenarios::find(inn)?;
    match s.fedresurs {
        Plan::AfterFirst(_, later) => Some((*later, s)),
        p => Some((p, s)),
    }
}

fn static_scenario_of_guid(guid: &str) -> Option<(Plan, &'static Scenario)> {
    let carries = |p: &Plan| matches!(p, Plan::Fedresurs { search, .. } if search.contains(&format!("\"guid\":\"{guid}\"")));
    SCENARIOS.iter().find_map(|s| match s.fedresurs {
        p if carries(&p) => Some((p, s)),
        Plan::AfterFirst(a, b) => [*a, *b].into_iter().find(|p| carries(p)).map(|p| (p, s)),
        _ => None,
    })
}

#[get("/backend/{collection:companies|persons}/{guid}/bankruptcy")]
async fn fedresurs_card(req: HttpRequest, path: web::Path<(String, String)>) -> HttpResponse {
    if !has_referer(&req, "fedresurs.ru") {
        return status(403);
    }
    match scenario_of_guid(&path.1) {
        Some((
            Plan::Fedresurs {
                card: Some(card), ..
            },
            s,
        )) => json_for(card, Some(s)),
        _ => status(404),
    }
}

#[get("/backend/{collection:companies|persons}/{guid}/publications")]
async fn fedresurs_publications(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    query: Query,
) -> HttpResponse {
    if !has_referer(&req, "fedresurs.ru") {
        return status(403);
    }
    let number = |k: &str| query.get(k).and_then(|v| v.parse::<usize>().ok());
    let page = number("offset").unwrap_or(0) / number("limit").unwrap_or(15).max(1);
    match scenario_of_guid(&path.1) {
        Some((Plan::Fedresurs { pages, .. }, s)) if page < pages.len() => {
            json_for(pages[page], Some(s))
        }
        _ => json(include_str!("../../fixtures/fedresurs-empty.json")),
    }
}

// ── bankrot.fedresurs.ru ───────────────────────────────────────────────────────

#[get("/bankrupts")]
async fn bankrot_page() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Set-Cookie", "qrator_msid=SANDBOX; Path=/"))
        .content_type("text/html; charset=utf-8")
        .body("<!DOCTYPE html><html><body>ЕФРСБ (sandbox)</body></html>")
}

#[get("/backend/{list:cmpbankrupts|prsnbankrupts}")]
async fn bankrot_search(state: web::Data<SandboxState>, query: Query) -> HttpResponse {
    let inn = query.get("searchString").cloned().unwrap_or_default();
    let (bankrot, scenario) = plan(inn.trim(), |s| s.bankrot);
    let bankrot = state.resolve("bankrot", inn.trim(), bankrot);
    if let Some(failure) = first_step_failure(bankrot).await {
        return failure;
    }
    match bankrot {
        Plan::Answer { search, .. } => json_for(search, scenario),
        Plan::Garbage(body, content_type) => raw(body, content_type),
        _ => json(include_str!("../../fixtures/bankrot-empty.json")),
    }
}

// ── kad.arbitr.ru ──────────────────────────────────────────────────────────────

#[post("/Kad/SearchInstances")]
async fn kad_search(req: HttpRequest, body: web::Json<serde_json::Value>) -> HttpResponse {
    let has_wasm = req
        .headers()
        .get("cookie")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.contains("wasm="));
    let html = |body: String| {
        HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(body)
    };
    let blocked = || {
        HttpResponse::build(actix_web::http::StatusCode::from_u16(451).unwrap_or_default())
            .content_type("text/html; charset=utf-8")
            .body(include_str!("../../fixtures/kad-451.html"))
    };
    if !has_wasm {
        return blocked();
    }
    let side = &body["Sides"][0];
    let inn = side["Name"].as_str().unwrap_or_default().trim().to_owned();
    let (kad, scenario) = plan(&inn, |s| s.kad);
    match kad {
        Plan::Status(451) => return blocked(),
        other => {
            if let Some(failure) = first_step_failure(other).await {
                return failure;
            }
        }
    }
    let total = |n: u32| {
        format!(
            "<input type=\"hidden\" id=\"documentsPage\" value=\"1\" />\n<input type=\"hidden\" id=\"documentsTotalCount\" value=\"{n}\" />\n"
        )
    };
    let empty = include_str!("../../fixtures/kad-empty.html");
    match kad {
        Plan::Kad {
            respondent,
            plaintiff,
            recent_total,
            bankruptcy_total,
        } => {
            let page = body["Page"].as_u64().unwrap_or(1);
            if body["CaseType"].as_str() == Some("B") {
                html(total(bankruptcy_total))
            } else if !body["DateFrom"].is_null() {
                html(total(recent_total))
            } else if page > 1 {
                html(empty.to_owned())
            } else if side["Type"].as_i64() == Some(0) {
                html(render(plaintiff, scenario))
            } else {
                html(render(respondent, scenario))
            }
        }
        Plan::Garbage(body, content_type) => raw(body, content_type),
        _ => html(empty.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn renders_relative_dates() {
        let today = chrono::Utc::now()
            .date_naive()
            .format("%d.%m.%Y")
            .to_string();
        assert_eq!(super::render("r={{date:0}}!", None), format!("r={today}!"));
        assert_eq!(super::render("plain {{other}}", None), "plain {{other}}");
        let s = super::scenarios::find("7702000205");
        assert_eq!(
            super::render("{{inn12}} {{name-json}}", s),
            r#"007702000205 ООО \"ОПОРА-СТРОЙ\""#
        );
    }
}

//! `kontragent sandbox`: a local fake of the registries' endpoints (same paths, same
//! formats) answering from hand-written fixtures, so every scenario can be tried and
//! tested offline. Unknown INNs are "not found".

mod scenarios;

pub use scenarios::{Plan, SCENARIOS, Scenario};

use actix_web::{App, HttpResponse, HttpServer, get, post, web};
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
            .service(egrul_index)
            .service(egrul_search)
            .service(egrul_result)
            .service(pb_search)
            .service(pb_card)
    })
    .workers(2)
    .listen(listener)?
    .run())
}

/// Fills `{{date:-N}}` (N days ago, dd.mm.yyyy) so "young company" stays young.
fn render(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{date:") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 7..];
        let Some(end) = after.find("}}") else { break };
        let days: i64 = after[..end].parse().unwrap_or(0);
        out.push_str(
            &(Utc::now().date_naive() + chrono::Duration::days(days))
                .format("%d.%m.%Y")
                .to_string(),
        );
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

fn json(body: &str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json; charset=utf-8")
        .body(render(body))
}

fn plan_of(inn: &str, pick: fn(&Scenario) -> Plan) -> Plan {
    scenarios::find(inn).map(pick).unwrap_or(Plan::Answer {
        search: include_str!("fixtures/egrul-empty.json"),
        card: None,
        wait: false,
        sync: false,
    })
}

/// Answers the first request of a flow when the plan says it fails there.
async fn first_step_failure(plan: Plan) -> Option<HttpResponse> {
    match plan {
        Plan::FirstStep(body) => Some(json(body)),
        Plan::Status(code) => Some(
            HttpResponse::build(actix_web::http::StatusCode::from_u16(code).unwrap_or_default())
                .finish(),
        ),
        Plan::Slow => {
            tokio::time::sleep(scenarios::SLOW_ANSWER).await;
            Some(json("{}"))
        }
        _ => None,
    }
}

#[get("/")]
async fn scenario_list() -> HttpResponse {
    let mut html = String::from(
        "<!DOCTYPE html><html><head><meta charset=utf-8><title>kontragent sandbox</title></head><body>\
         <h1>kontragent sandbox</h1><p>Fake egrul.nalog.ru and pb.nalog.ru. Scenario INNs:</p>\
         <table border=1 cellpadding=4><tr><th>INN</th><th>scenario</th><th>default rules decide</th></tr>",
    );
    for s in SCENARIOS {
        html.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            s.inn, s.title, s.expect
        ));
    }
    html.push_str("</table><p>Any other INN is not found.</p></body></html>");
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html)
}

// ── egrul.nalog.ru ──────────────────────────────────────────────────────────────

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
    if let Some(failure) = first_step_failure(plan_of(&inn, |s| s.egrul)).await {
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
    match plan_of(&inn, |s| s.egrul) {
        Plan::Answer { wait: true, .. } if polls_before == 0 => json(r#"{"status":"wait"}"#),
        Plan::Answer { search, .. } => json(search),
        Plan::Garbage(body, content_type) => {
            HttpResponse::Ok().content_type(content_type).body(body)
        }
        _ => json(include_str!("fixtures/egrul-empty.json")),
    }
}

// ── pb.nalog.ru ────────────────────────────────────────────────────────────────

fn pb_plan(inn: &str) -> Plan {
    scenarios::find(inn).map(|s| s.pb).unwrap_or(Plan::Answer {
        search: include_str!("fixtures/pb-search-empty.json"),
        card: None,
        wait: false,
        sync: false,
    })
}

#[post("/search-proc.json")]
async fn pb_search(state: web::Data<SandboxState>, form: Form) -> HttpResponse {
    if form.get("method").map(String::as_str) == Some("get-response") {
        let id = form.get("id").cloned().unwrap_or_default();
        let Some((inn, polls_before)) = state.poll(&id) else {
            return json(r#"{"ERRORS":{"id":["Запрос не найден"]}}"#);
        };
        return match pb_plan(&inn) {
            Plan::Answer { wait: true, .. } if polls_before == 0 => json("null"),
            Plan::Answer { search, .. } => json(search),
            Plan::Garbage(body, content_type) => {
                HttpResponse::Ok().content_type(content_type).body(body)
            }
            _ => json(include_str!("fixtures/pb-search-empty.json")),
        };
    }
    let inn = ["queryUl", "queryIp", "queryAll"]
        .iter()
        .find_map(|k| form.get(*k))
        .map(|q| q.trim().to_owned())
        .unwrap_or_default();
    let plan = pb_plan(&inn);
    if let Some(failure) = first_step_failure(plan).await {
        return failure;
    }
    if let Plan::Answer {
        search, sync: true, ..
    } = plan
    {
        return json(search);
    }
    let id = state.open(&inn);
    json(&format!("{{\"id\":\"{id}\",\"captchaRequired\":false}}"))
}

#[post("/company-proc.json")]
async fn pb_card(state: web::Data<SandboxState>, form: Form) -> HttpResponse {
    let token = form.get("token").cloned().unwrap_or_default();
    match form.get("method").map(String::as_str) {
        Some("get-request") => {
            let Some(scenario) = SCENARIOS.iter().find(|s| {
                matches!(s.pb, Plan::Answer { search, .. } if search.contains(&format!("\"token\":\"{token}\"")))
            }) else {
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
            match pb_plan(&inn) {
                Plan::Answer { wait: true, .. } if polls_before == 0 => json("{}"),
                Plan::Answer {
                    card: Some(card), ..
                } => json(card),
                _ => json(r#"{"ERRORS":{"pbCaptcha":["Требуется ввести цифры с картинки"]}}"#),
            }
        }
        _ => {
            HttpResponse::BadRequest().json(serde_json::json!({"ERRORS": {"method": ["unknown"]}}))
        }
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
        assert_eq!(super::render("r={{date:0}}!"), format!("r={today}!"));
        assert_eq!(super::render("plain"), "plain");
    }
}

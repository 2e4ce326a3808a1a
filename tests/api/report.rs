//! The printable report and the evidence behind a check, through the public API; and the
//! report as headless Chromium renders it (`scripts/report-in-chromium.py`).

use crate::helpers::{TestApp, spawn_app};
use serde_json::Value;

async fn text(app: &TestApp, path: &str) -> (u16, String, String) {
    let r = app.get(path).await;
    let status = r.status().as_u16();
    let kind = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, kind, r.text().await.unwrap())
}

#[tokio::test]
async fn a_report_shows_the_company_decision_reasons_and_each_answers_hash() {
    let app = spawn_app().await;
    let check = app.check("7701000040").await;
    let id = check["id"].as_str().unwrap();
    assert_eq!(check["report_url"], format!("/v1/checks/{id}/report"));
    assert_eq!(check["requested_by"], "anonymous");

    let (status, kind, html) = text(&app, &format!("/v1/checks/{id}/report")).await;
    assert_eq!(status, 200);
    assert_eq!(kind, "text/html; charset=utf-8");
    for expected in [
        "Справка о проверке контрагента",
        "ОТКЛОНЕНО",
        "балл 75, решение задало правило отклонения",
        "ООО &quot;КРЕДО-СТРОЙ&quot;",
        "1027701000040",
        "Банкротство: В отношении ЮЛ введено наблюдение",
        "<code>company.status</code>",
        "проверено, записи есть",
        "Кто запросил</th><td>anonymous",
        check["ruleset_version"].as_str().unwrap(),
    ] {
        assert!(html.contains(expected), "{expected} in\n{html}");
    }
    // Every raw answer's hash is in the report, and the evidence route gives the same ones.
    let evidence: Value = app
        .get(&format!("/v1/checks/{id}/evidence?body=true"))
        .await
        .json()
        .await
        .unwrap();
    let mut hashes = 0;
    for (source, items) in evidence["sources"].as_object().unwrap() {
        for item in items.as_array().unwrap() {
            let sha = item["sha256"].as_str().unwrap();
            assert!(html.contains(sha), "{source} {sha}");
            let body = item["body"].as_str().unwrap();
            assert_eq!(item["size"], body.len());
            assert_eq!(
                hex_sha256(body.as_bytes()),
                sha,
                "the hash is of the body as kept"
            );
            assert!(
                item["url"]
                    .as_str()
                    .unwrap()
                    .starts_with("http://127.0.0.1:")
            );
            hashes += 1;
        }
    }
    assert!(hashes >= 5, "every registry's answers: {evidence}");
    let without: Value = app
        .get(&format!("/v1/checks/{id}/evidence"))
        .await
        .json()
        .await
        .unwrap();
    assert!(without["sources"]["pb"][0].get("body").is_none());

    // The latest of the INN, and in English.
    let (status, _, latest) = text(&app, "/v1/counterparties/7701000040/report?lang=en").await;
    assert_eq!(status, 200);
    assert!(latest.contains("Counterparty check report") && latest.contains("REJECT"));
    assert!(latest.contains("Bankruptcy: В отношении ЮЛ введено наблюдение"));
}

#[tokio::test]
async fn report_errors_are_problems() {
    let app = spawn_app().await;
    let (status, kind, body) = text(&app, "/v1/checks/nope/report").await;
    assert_eq!(
        (status, kind.as_str()),
        (404, "application/problem+json"),
        "{body}"
    );
    let (status, _, body) = text(&app, "/v1/counterparties/7701000019/report").await;
    assert_eq!(status, 404, "never checked: {body}");
    let check = app.check("7701000019").await;
    let (status, _, body) = text(
        &app,
        &format!(
            "/v1/checks/{}/report?lang=de",
            check["id"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("\"field\":\"lang\""), "{body}");
}

#[tokio::test]
async fn a_name_with_quotes_and_angle_brackets_is_escaped() {
    let app = spawn_app().await;
    let check = app.check("7703000092").await;
    assert_eq!(check["company"]["name"], "ООО \"<ТОРГ & СЕРВИС>\"");
    let (_, _, html) = text(&app, "/v1/counterparties/7703000092/report").await;
    assert!(!html.contains("<ТОРГ"), "{html}");
    assert!(
        html.contains("ООО &quot;&lt;ТОРГ &amp; СЕРВИС&gt;&quot;"),
        "{html}"
    );
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

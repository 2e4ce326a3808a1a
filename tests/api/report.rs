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
    let link = check["report_url"].as_str().unwrap();
    assert!(
        link.starts_with(&format!("/v1/checks/{id}/report?exp=")),
        "{link}"
    );
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

/// Each page as headless Chromium shows it (`scripts/report-in-chromium.py`): its sections'
/// text, its layouts, a PNG and a PDF (in the directory returned). The browser sends no key.
pub async fn in_chromium(urls: &[String]) -> (Vec<Value>, std::path::PathBuf) {
    let out_dir = std::env::temp_dir().join(format!("kontragent-report-{}", uuid::Uuid::new_v4()));
    let output = tokio::process::Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/report-in-chromium.py"
        ))
        .arg("--out")
        .arg(&out_dir)
        .args(urls)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let pages = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (pages, out_dir)
}

/// The report as a browser shows it and prints it: an approve, a review with registries
/// that could not be checked, a reject, and a name with quotes and `<`. Each section's text
/// is read from the DOM; nothing sticks out of A4's width, its print width or a phone's.
#[tokio::test]
async fn headless_chromium_renders_each_report_to_png_and_pdf_within_a4() {
    use crate::helpers::installed;
    if !installed("chromium") || !installed("python3") {
        eprintln!("SKIPPED report in chromium: no chromium or python3 (.ci/run installs them)");
        return;
    }
    let app = spawn_app().await;
    let cases = [
        (
            "7701000019",
            "ОДОБРЕНО",
            "Ни одно правило не сработало",
            "проверено, записи есть",
        ),
        (
            "7703000078",
            "НА ПРОВЕРКУ",
            "Обязательный реестр не проверен",
            "недоступен: капча",
        ),
        (
            "7701000040",
            "ОТКЛОНЕНО",
            "Идёт процедура банкротства",
            "проверено, записи есть",
        ),
        (
            "7703000092",
            "ОДОБРЕНО",
            "Ни одно правило не сработало",
            "проверено, записи есть",
        ),
    ];
    let mut urls = Vec::new();
    let mut versions = Vec::new();
    for (inn, ..) in cases {
        let check = app.check(inn).await;
        versions.push(check["ruleset_version"].as_str().unwrap().to_owned());
        urls.push(format!(
            "{}/v1/checks/{}/report?lang=ru",
            app.address,
            check["id"].as_str().unwrap()
        ));
    }
    let (pages, out_dir) = in_chromium(&urls).await;
    assert_eq!(pages.len(), cases.len(), "{pages:?}");
    for ((page, (inn, verdict, reason, registry)), version) in
        pages.iter().zip(cases).zip(&versions)
    {
        let section = |id: &str| page["sections"][id].as_str().unwrap_or_default().to_owned();
        assert!(
            section("header").contains("Справка о проверке контрагента"),
            "{page}"
        );
        assert!(section("company").contains(inn), "{page}");
        assert!(section("decision").contains(verdict), "{page}");
        assert!(section("reasons").contains(reason), "{page}");
        assert!(section("registries").contains(registry), "{page}");
        assert!(section("provenance").contains(version.as_str()), "{page}");
        assert_eq!(page["scripts"], 0, "{page}");
        for layout in ["a4", "print", "phone"] {
            let l = &page["layouts"][layout];
            assert_eq!(l["overflowing"], serde_json::json!([]), "{layout}: {page}");
            assert!(
                l["scrollWidth"].as_i64() <= l["clientWidth"].as_i64(),
                "{layout}: {page}"
            );
        }
        let png = std::fs::read(page["png"].as_str().unwrap()).unwrap();
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 10_000,
            "{inn}: a real picture"
        );
        let pdf = std::fs::read(page["pdf"].as_str().unwrap()).unwrap();
        assert!(pdf.starts_with(b"%PDF-"), "{inn}");
        // `preferCSSPageSize`: the page is A4 (595 × 842 pt).
        let pdf_text = String::from_utf8_lossy(&pdf);
        assert!(
            pdf_text.contains("/MediaBox [0 0 595") || pdf_text.contains("/MediaBox [0 0 594"),
            "{inn}: an A4 page"
        );
    }
    // The name reads as written: quotes, `<` and `&` were escaped, never markup.
    let escaped = pages[3]["sections"]["company"].as_str().unwrap();
    assert!(escaped.contains("ООО \"<ТОРГ & СЕРВИС>\""), "{escaped}");
    assert!(
        pages[3]["title"]
            .as_str()
            .unwrap()
            .contains("<ТОРГ & СЕРВИС>")
    );
    let _ = std::fs::remove_dir_all(out_dir);
}

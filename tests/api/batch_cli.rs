//! `kontragent batch`: a 1 000-row spreadsheet through the binary, against the sandbox —
//! the XLSX written (read back with calamine), progress shown, Ctrl-C, and the resume.

use crate::cli::{free_port, kontragent};
use crate::helpers::inn_of;
use calamine::{Data, Reader};
use std::io::{BufRead, BufReader};
use std::path::Path;

/// The input: a name column, then «ИНН»; 996 INNs the sandbox approves, and four bad rows
/// (a wrong check digit, a repeat, an INN whose leading zero Excel dropped, and one written
/// as 7.70708E+09).
fn write_input(path: &Path) -> Vec<String> {
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.write_string(0, 0, "Наименование").unwrap();
    sheet.write_string(0, 1, "ИНН").unwrap();
    let mut inns: Vec<String> = Vec::new();
    for i in 0..1000u32 {
        let row = i + 1;
        sheet
            .write_string(row, 0, format!("Поставщик {i}"))
            .unwrap();
        let inn = match i {
            10 => "7701000018".to_owned(),
            20 => inns[5].clone(),
            30 => {
                // Typed as a number: 0274… becomes 274….
                let zero = inn_of("027400000");
                sheet
                    .write_number(row, 1, zero.parse::<f64>().unwrap())
                    .unwrap();
                inns.push(zero);
                continue;
            }
            40 => "7.70708E+09".to_owned(),
            _ => inn_of(&format!("77050{i:04}")),
        };
        sheet.write_string(row, 1, &inn).unwrap();
        inns.push(inn);
    }
    workbook.save(path).unwrap();
    inns
}

fn read_output(path: &Path) -> Vec<Vec<String>> {
    let mut workbook: calamine::Xlsx<_> = calamine::open_workbook(path).unwrap();
    let range = workbook.worksheet_range_at(0).unwrap().unwrap();
    range
        .rows()
        .map(|r| {
            r.iter()
                .map(|c| match c {
                    Data::Empty => String::new(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn a_thousand_rows_survive_an_interrupt_and_resume() {
    let db = crate::helpers::fresh_database_url().await;
    let port = free_port().to_string();
    let dir = std::env::temp_dir().join(format!("kontragent-batch-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("поставщики.xlsx");
    let output = dir.join("результат.xlsx");
    let inns = write_input(&input);
    let command = || {
        let mut cmd = kontragent();
        cmd.args(["batch"])
            .arg(&input)
            .arg("--out")
            .arg(&output)
            .arg("--sandbox")
            .env("KONTRAGENT__DATABASE__URL", &db)
            .env("KONTRAGENT__SANDBOX__PORT", &port)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        cmd
    };

    // First run: stopped with Ctrl-C (SIGINT) once progress shows some rows done.
    let mut child = command().spawn().unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = Vec::new();
    let mut lines = stderr.lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push(line.clone());
        let done = line
            .strip_prefix("batch: ")
            .and_then(|rest| rest.split('/').next())
            .and_then(|n| n.parse::<usize>().ok());
        if done.is_some_and(|n| n >= 60) {
            let status = std::process::Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status()
                .unwrap();
            assert!(status.success());
            break;
        }
    }
    // Keep reading, so the stopping process can still write.
    let rest = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>());
    let first = child.wait_with_output().unwrap();
    seen.extend(rest.join().unwrap());
    assert_eq!(
        first.status.code(),
        Some(130),
        "Ctrl-C exits 130: {seen:#?}\n{}",
        String::from_utf8_lossy(&first.stdout)
    );
    let stopped = read_output(&output);
    assert_eq!(
        stopped.len(),
        1001,
        "every input row is in the output, done or not"
    );
    let interrupted = stopped
        .iter()
        .filter(|r| r.last().is_some_and(|e| e.starts_with("interrupted")))
        .count();
    assert!(
        interrupted > 0 && interrupted < 990,
        "{interrupted} rows left"
    );
    let report_of = |rows: &[Vec<String>], inn: &str| {
        rows.iter()
            .find(|r| r[1] == inn)
            .map(|r| r[12].clone())
            .unwrap_or_default()
    };
    let checked_first: Vec<(String, String)> = stopped
        .iter()
        .skip(1)
        .filter(|r| r[4] == "одобрить")
        .map(|r| (r[1].clone(), r[12].clone()))
        .collect();
    assert!(checked_first.len() >= 50, "{}", checked_first.len());

    // Second run: the same command goes on and reuses what was done.
    let second = command().output().unwrap();
    let summary = String::from_utf8_lossy(&second.stdout);
    assert_eq!(
        second.status.code(),
        Some(0),
        "{summary}\n{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let resumed: usize = summary
        .split('(')
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_default();
    assert!(resumed >= checked_first.len(), "{summary}");
    let rows = read_output(&output);
    assert_eq!(rows.len(), 1001);
    assert_eq!(
        rows[0][..7],
        [
            "Строка",
            "ИНН",
            "Название",
            "Статус",
            "Решение",
            "Балл",
            "Причины"
        ]
        .map(String::from)
    );
    for (i, row) in rows.iter().skip(1).enumerate() {
        assert_eq!(
            row[0],
            (i + 2).to_string(),
            "one row per input row, in order"
        );
    }
    // Rows checked before the stop keep their check: the registries were not asked again.
    for (inn, report) in &checked_first {
        assert_eq!(&report_of(&rows, inn), report, "{inn}");
    }
    let error = |i: usize| {
        rows[i + 1]
            .last()
            .unwrap()
            .split(':')
            .next()
            .unwrap()
            .to_owned()
    };
    assert_eq!(error(10), "inn_checksum");
    assert_eq!(error(20), "duplicate");
    assert_eq!(error(30), "inn_leading_zero_lost");
    assert_eq!(error(40), "inn_excel_number");
    let approved = rows.iter().skip(1).filter(|r| r[4] == "одобрить").count();
    assert_eq!(approved, 996, "every good row approved");
    assert_eq!(rows[1][1], inns[0]);
    assert!(
        rows[1][2].starts_with("ООО"),
        "the company's name: {:?}",
        rows[1]
    );
    assert!(rows[1][12].contains("/report"));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn csv_and_json_outputs_from_a_windows_1251_csv() {
    let db = crate::helpers::fresh_database_url().await;
    let port = free_port().to_string();
    let dir = std::env::temp_dir().join(format!("kontragent-batch-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("list.csv");
    let text = "Название;ИНН\nА;7701000019\nБ;7701000026\nВ;7701 000 058\nГ;abc\n";
    std::fs::write(&input, encoding_rs::WINDOWS_1251.encode(text).0).unwrap();
    for out in ["out.csv", "out.json"] {
        let output = kontragent()
            .args(["batch"])
            .arg(&input)
            .arg("--out")
            .arg(dir.join(out))
            .arg("--sandbox")
            .env("KONTRAGENT__DATABASE__URL", &db)
            .env("KONTRAGENT__SANDBOX__PORT", &port)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let csv = std::fs::read_to_string(dir.join("out.csv")).unwrap();
    assert!(csv.starts_with('\u{feff}'), "a BOM, for Excel");
    let lines: Vec<&str> = csv.lines().collect();
    assert!(
        lines[1].contains("одобрить") && lines[2].contains("отклонить"),
        "{csv}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("out.json")).unwrap()).unwrap();
    let decisions: Vec<String> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["check"]["decision"]
                .as_str()
                .map(String::from)
                .or_else(|| r["error"]["code"].as_str().map(String::from))
                .unwrap()
        })
        .collect();
    assert_eq!(decisions, ["approve", "reject", "review", "inn_digits"]);
    assert_eq!(json[2]["inn"], "7701 000 058");
    let _ = std::fs::remove_dir_all(dir);
}

/// `--server`: the same batch through a running service's API, with its key.
#[tokio::test]
async fn a_batch_runs_on_a_server_with_its_key() {
    use crate::helpers::{Registries, spawn_app_from, test_settings};
    let settings = test_settings(Registries::Sandbox).await;
    let store = kontragent::storage::connect(&settings.database.url, 1)
        .await
        .unwrap();
    let (_, key) = kontragent::auth::KeyService::new(store, &settings.auth)
        .create("purchasing", "checks")
        .await
        .unwrap();
    let app = spawn_app_from(settings).await;
    let dir = std::env::temp_dir().join(format!("kontragent-batch-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("list.csv");
    std::fs::write(&input, "inn\n7701000019\n7701000058\n").unwrap();
    let run = |key: Option<&str>| {
        let mut cmd = kontragent();
        cmd.args(["batch"])
            .arg(&input)
            .arg("--out")
            .arg(dir.join("out.json"))
            .args(["--server", &app.address])
            .env_remove("KONTRAGENT_API_KEY");
        if let Some(key) = key {
            cmd.env("KONTRAGENT_API_KEY", key);
        }
        // Awaited, not blocking: the server answering it runs on this test's runtime.
        tokio::process::Command::from(cmd).output()
    };
    let refused = run(None).await.unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("401"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let done = run(Some(&key)).await.unwrap();
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let rows: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("out.json")).unwrap()).unwrap();
    assert_eq!(rows[0]["check"]["decision"], "approve");
    assert_eq!(rows[1]["check"]["decision"], "review");
    assert_eq!(rows[0]["check"]["requested_by"], "purchasing");
    let _ = std::fs::remove_dir_all(dir);
}

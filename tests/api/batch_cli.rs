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

/// Our columns: row, INN, name, status, decision, score, reasons, five registries, report,
/// checked at, error; then the input's own.
const SCORE: usize = 5;
const REPORT: usize = 12;
const ERROR: usize = 14;

/// The sheet's cells as text, the report column as the URL its hyperlink opens (read from
/// the sheet's XML with python's zipfile: calamine does not read links).
fn read_output(path: &Path) -> Vec<Vec<String>> {
    let mut rows = read_cells(path);
    let links = hyperlinks(path);
    for (i, row) in rows.iter_mut().enumerate().skip(1) {
        if let Some(url) = links.get(&(i, REPORT)) {
            assert_eq!(row[REPORT], "Справка", "a link reads «Справка»");
            row[REPORT] = url.clone();
        }
    }
    rows
}

/// Every hyperlink of the first sheet: (row, column) → URL.
fn hyperlinks(path: &Path) -> std::collections::HashMap<(usize, usize), String> {
    const SCRIPT: &str = r#"
import re, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
sheet = z.read("xl/worksheets/sheet1.xml").decode()
rels = z.read("xl/worksheets/_rels/sheet1.xml.rels").decode()
targets = dict(re.findall(r'Id="(rId\d+)"[^>]*Target="([^"]+)"', rels))
targets.update({i: t for t, i in re.findall(r'Target="([^"]+)"[^>]*Id="(rId\d+)"', rels)})
for ref, rid in re.findall(r'<hyperlink ref="([A-Z]+\d+)" r:id="(rId\d+)"', sheet):
    print(ref, targets[rid].replace("&amp;", "&"))
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", SCRIPT])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(cell, url)| {
            let letters: String = cell.chars().take_while(char::is_ascii_alphabetic).collect();
            let column = letters
                .bytes()
                .fold(0usize, |n, b| n * 26 + (b - b'A' + 1) as usize)
                - 1;
            let row: usize = cell[letters.len()..].parse::<usize>().unwrap() - 1;
            ((row, column), url.to_owned())
        })
        .collect()
}

fn read_cells(path: &Path) -> Vec<Vec<String>> {
    let mut workbook: calamine::Xlsx<_> = calamine::open_workbook(path).unwrap();
    assert_eq!(workbook.sheet_names(), ["Проверка"]);
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
        .filter(|r| r[ERROR].ends_with("(interrupted)"))
        .count();
    assert!(
        interrupted > 0 && interrupted < 990,
        "{interrupted} rows left"
    );
    let report_of = |rows: &[Vec<String>], inn: &str| {
        rows.iter()
            .find(|r| r[1] == inn)
            .map(|r| r[REPORT].clone())
            .unwrap_or_default()
    };
    let checked_first: Vec<(String, String)> = stopped
        .iter()
        .skip(1)
        .filter(|r| r[4] == "одобрить")
        .map(|r| (r[1].clone(), r[REPORT].clone()))
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
    // «…: строк 1000 — одобрить 996, … (N из прошлого запуска)».
    let resumed: usize = summary
        .split('(')
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_default();
    assert!(summary.contains("строк 1000 — одобрить 996"), "{summary}");
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
    // The error in Russian, its code in brackets.
    let error = |i: usize| rows[i + 1][ERROR].clone();
    assert!(
        error(10).ends_with("(inn_checksum)") && error(10).starts_with("контрольные цифры ИНН"),
        "{}",
        error(10)
    );
    assert_eq!(error(20), "тот же ИНН, что в строке 7 (duplicate)");
    assert!(
        error(30).contains("Excel отбросил ведущий ноль")
            && error(30).ends_with("(inn_leading_zero_lost)"),
        "{}",
        error(30)
    );
    assert!(
        error(40).starts_with("Excel записал ИНН как 7.70708E+09")
            && error(40).ends_with("(inn_excel_number)"),
        "{}",
        error(40)
    );
    // The input's own columns are kept after ours, as they were.
    assert_eq!(
        rows[0][ERROR + 1..],
        ["Наименование", "ИНН"].map(String::from)
    );
    assert_eq!(
        rows[1][ERROR + 1..],
        [String::from("Поставщик 0"), inns[0].clone()]
    );
    assert_eq!(rows[41][ERROR + 2], "7.70708E+09");
    let approved = rows.iter().skip(1).filter(|r| r[4] == "одобрить").count();
    assert_eq!(approved, 996, "every good row approved");
    assert_eq!(rows[1][1], inns[0]);
    assert!(
        rows[1][2].starts_with("ООО"),
        "the company's name: {:?}",
        rows[1]
    );
    assert!(
        rows[1][REPORT].starts_with("http://127.0.0.1:")
            && rows[1][REPORT].contains("/report?exp="),
        "a hyperlink that opens the report: {}",
        rows[1][REPORT]
    );
    // The score is a number a spreadsheet sums and sorts.
    let sheet = {
        let mut workbook: calamine::Xlsx<_> = calamine::open_workbook(&output).unwrap();
        workbook.worksheet_range_at(0).unwrap().unwrap()
    };
    assert!(
        matches!(sheet.get((1, SCORE)), Some(Data::Float(_) | Data::Int(_))),
        "{:?}",
        sheet.get((1, SCORE))
    );
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
    // The input's columns after ours; the score a bare number; the error in Russian.
    let records: Vec<Vec<String>> = csv::ReaderBuilder::new()
        .delimiter(b';')
        .has_headers(false)
        .from_reader(csv.trim_start_matches('\u{feff}').as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    assert_eq!(
        records[0][ERROR..],
        ["Ошибка", "Название", "ИНН"].map(String::from)
    );
    assert_eq!(
        records[1][ERROR + 1..],
        ["А", "7701000019"].map(String::from)
    );
    assert_eq!(records[1][SCORE], "100");
    assert_eq!(records[4][ERROR], "ИНН состоит только из цифр (inn_digits)");
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

//! The binary itself, as the README uses it.

use std::process::Command;

pub fn kontragent() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kontragent"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn check_prints_a_verdict_against_the_sandbox() {
    let db = crate::helpers::fresh_database_url().await;
    let port = free_port().to_string();
    let out = kontragent()
        .args(["check", "7701000040", "--sandbox"])
        .env("KONTRAGENT__DATABASE__URL", &db)
        .env("KONTRAGENT__SANDBOX__PORT", &port)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(3),
        "a reject exits 3: {text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.starts_with("ОТКЛОНЕНО  ИНН 7701000040"), "{text}");
    assert!(text.contains("проверено, записи есть  ("), "{text}");
    assert!(text.contains("bankruptcy_stage"), "{text}");

    let out = kontragent()
        .args(["check", "7701000019", "--sandbox", "--json"])
        .env("KONTRAGENT__DATABASE__URL", &db)
        .env("KONTRAGENT__SANDBOX__PORT", &port)
        .output()
        .unwrap();
    let check: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(check["decision"], "approve");
    assert_eq!(out.status.code(), Some(0), "an approve exits 0");

    let out = kontragent()
        .args(["check", "7701000058", "--sandbox"])
        .env("KONTRAGENT__DATABASE__URL", &db)
        .env("KONTRAGENT__SANDBOX__PORT", &port)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a review exits 2");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("НА ПРОВЕРКУ"));

    // An absurd age reaches back before any time there is: no overflow, just "any age".
    let out = kontragent()
        .args([
            "check",
            "7701000019",
            "--sandbox",
            "--max-age-s",
            "9000000000000",
        ])
        .env("KONTRAGENT__DATABASE__URL", &db)
        .env("KONTRAGENT__SANDBOX__PORT", &port)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn an_invalid_inn_fails_with_its_code() {
    let out = kontragent().args(["check", "7707083894"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("inn_checksum"));
}

#[test]
fn rules_validate_reports_the_rule_and_line() {
    let out = kontragent().args(["rules", "validate"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = std::env::temp_dir().join(format!("kt-cli-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[profiles.default]\nbase_score = 100\napprove_from = 80\nreview_from = 50\n[[rules]]\nid = \"x\"\ntitle = \"X\"\nwhen = \"nope.fact\"\neffect = \"review\"\n").unwrap();
    let out = kontragent()
        .args(["rules", "validate", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("rule `x` (line 8, column 9)") && err.contains("nope.fact"),
        "{err}"
    );
}

#[test]
fn unknown_config_keys_stop_the_binary_naming_the_key() {
    let out = kontragent()
        .args(["rules", "validate"])
        .env("KONTRAGENT__SOURCES__EGRUL__TIMEOUT", "5")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("timeout"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn serve_reloads_the_rules_on_sighup() {
    let dir = std::env::temp_dir().join(format!("kt-hup-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let rules = dir.join("rules.toml");
    let text = include_str!("../../rules/default.toml");
    std::fs::write(&rules, text).unwrap();
    let port = free_port();
    let mut child = kontragent()
        .args(["serve"])
        .env("KONTRAGENT__SERVER__PORT", port.to_string())
        .env(
            "KONTRAGENT__DATABASE__URL",
            crate::helpers::fresh_database_url().await,
        )
        .env("KONTRAGENT__RULES__PATH", rules.to_str().unwrap())
        .env("KONTRAGENT__RULES__WATCH_INTERVAL_MS", "0")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut up = false;
    for _ in 0..100 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(up, "the server did not start");
    std::fs::write(
        &rules,
        text.replace("approve_from = 85", "approve_from = 87"),
    )
    .unwrap();
    let status = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut author = serde_json::Value::Null;
    for _ in 0..100 {
        let active: serde_json::Value = client
            .get(format!("{base}/v1/rules"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        author = active["author"].clone();
        if author == "SIGHUP" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(author, "SIGHUP");
}

#[tokio::test]
async fn keys_are_created_listed_and_revoked_and_shown_only_once() {
    let db = crate::helpers::fresh_database_url().await;
    let run = |args: &[&str]| {
        kontragent()
            .args(args)
            .env("KONTRAGENT__DATABASE__URL", &db)
            .output()
            .unwrap()
    };
    let out = run(&[
        "keys",
        "create",
        "--name",
        "website",
        "--scopes",
        "public,checks",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let key = stdout.lines().last().unwrap().trim().to_owned();
    assert!(key.starts_with("kt_") && key.len() == 67, "{stdout}");
    let out = run(&[
        "keys",
        "create",
        "--name",
        "x",
        "--scopes",
        "catalog:delete",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("catalog:delete"));
    let list = String::from_utf8_lossy(&run(&["keys", "list"]).stdout).into_owned();
    assert!(
        list.contains("website") && list.contains("checks,public"),
        "{list}"
    );
    assert!(!list.contains(&key[3..]), "the key itself is never listed");
    let out = run(&["keys", "revoke", "website"]);
    assert!(out.status.success());
    let out = run(&["keys", "revoke", "website"]);
    assert!(!out.status.success(), "no active key of that name is left");
}

#[tokio::test]
async fn a_persons_inn_is_masked_in_the_logs() {
    let db = crate::helpers::fresh_database_url().await;
    let (port, sandbox) = (free_port(), free_port());
    let mut server = tokio::process::Command::new(env!("CARGO_BIN_EXE_kontragent"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["serve", "--sandbox"])
        .env("KONTRAGENT__DATABASE__URL", &db)
        .env("KONTRAGENT__SERVER__PORT", port.to_string())
        .env("KONTRAGENT__SANDBOX__PORT", sandbox.to_string())
        .env("KONTRAGENT__MONITORING__ENABLED", "false")
        .env("KONTRAGENT__LOG__FILTER", "info")
        .env_remove("RUST_LOG")
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut up = false;
    for _ in 0..100 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(up, "the server started");
    // A person (found) and one the registries do not know (a 4xx path too).
    for inn in ["770100000142", "770100000216"] {
        let r = client
            .post(format!("{base}/v1/checks"))
            .json(&serde_json::json!({"inn": inn}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let r = client
        .get(format!("{base}/v1/catalog/770100000142"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    server.start_kill().unwrap();
    let out = server.wait_with_output().await.unwrap();
    let logs = String::from_utf8_lossy(&out.stderr);
    assert!(logs.contains("7701******42"), "{logs}");
    assert!(!logs.contains("770100000142"), "{logs}");
    assert!(!logs.contains("770100000216"), "{logs}");
}

#[tokio::test]
async fn the_callback_secret_is_generated_once_and_printed() {
    let db = crate::helpers::fresh_database_url().await;
    let secret = |configured: Option<&str>| {
        let mut cmd = kontragent();
        cmd.args(["webhooks", "callback-secret"])
            .env("KONTRAGENT__DATABASE__URL", &db);
        if let Some(value) = configured {
            cmd.env("KONTRAGENT__WEBHOOKS__CALLBACK_SECRET", value);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let first = secret(None);
    assert!(first.starts_with("whsec_") && first.len() > 30, "{first}");
    assert_eq!(
        secret(None),
        first,
        "stored at first use, the same afterwards"
    );
    let configured = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    assert_eq!(secret(Some(configured)), configured);
}

#[tokio::test]
async fn doctor_reports_each_registry_and_exits_2_when_one_is_unreachable() {
    let port = free_port().to_string();
    let out = kontragent()
        .args(["doctor", "--sandbox", "--json"])
        .env("KONTRAGENT__SANDBOX__PORT", &port)
        .env("KONTRAGENT__SOURCES__PROBE_INN", "7701000040")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let health: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(health["reachable"], 5, "{health:#}");

    let port = free_port().to_string();
    let out = kontragent()
        .args(["doctor", "--sandbox"])
        .env("KONTRAGENT__SANDBOX__PORT", &port)
        .env("KONTRAGENT__SOURCES__PROBE_INN", "7703000078")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("Registries asked about INN 7703000078"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("egrul") && l.contains("captcha")),
        "{text}"
    );
}

/// Run outside the repository, the CLI finds no `rules/default.toml` and says which
/// setting names it, and where it looked.
#[tokio::test]
async fn without_a_rules_file_the_cli_names_the_setting() {
    let dir = std::env::temp_dir().join(format!("kontragent-norepo-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = crate::helpers::fresh_database_url().await;
    let out = kontragent()
        .current_dir(&dir)
        .args(["check", "7701000019"])
        .env("KONTRAGENT__DATABASE__URL", &db)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("set `rules.path` (or KONTRAGENT__RULES__PATH)")
            && err.contains(&format!("looked in {}", dir.display())),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// `rules test --rules FILE --tests DIR`: a ruleset and its cases wherever they are; a
/// failing case explains itself.
#[tokio::test]
async fn rules_test_takes_the_cases_from_anywhere() {
    let dir = std::env::temp_dir().join(format!("kontragent-rules-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(dir.join("other")).unwrap();
    std::fs::create_dir_all(dir.join("cases")).unwrap();
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/rules/default.toml"),
        dir.join("other/c.toml"),
    )
    .unwrap();
    std::fs::write(
        dir.join("cases/mass.toml"),
        "[[case]]\nname = \"mass address\"\nfacts = { \"company.mass_address\" = true }\nexpect = { decision = \"review\", rules = [\"mass_address\"] }\n",
    )
    .unwrap();
    let run = || {
        kontragent()
            .args(["rules", "test", "--rules"])
            .arg(dir.join("other/c.toml"))
            .arg("--tests")
            .arg(dir.join("cases"))
            .output()
            .unwrap()
    };
    let out = run();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("ok    "), "{text}");
    // One case covers one rule: the others are named as having no golden case.
    let uncovered = text
        .lines()
        .find(|l| l.starts_with("no case fires"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(uncovered.contains("bankruptcy_stage"), "{uncovered}");
    assert!(!uncovered.contains("mass_address"), "{uncovered}");
    std::fs::write(
        dir.join("cases/mass.toml"),
        "[[case]]\nname = \"mass address\"\nfacts = { \"company.mass_address\" = true }\nexpect = { decision = \"approve\" }\n",
    )
    .unwrap();
    let out = run();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("decision: expected approve, got review"),
        "{text}"
    );
    assert!(text.contains("fired `mass_address` (score)"), "{text}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn rules_validate_knows_the_monitoring_policy() {
    let out = kontragent()
        .args(["rules", "validate", "rules/monitoring.toml"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("ok — 7 rules, monitoring policy"), "{text}");
    let out = kontragent()
        .args(["rules", "validate", "--monitoring"])
        .output()
        .unwrap();
    assert!(out.status.success());
}

/// `rules explain INN --rules FILE`: the latest stored check re-decided under a file, beside
/// what was decided, with nothing fetched.
#[tokio::test]
async fn rules_explain_shows_a_stored_check_under_another_file() {
    let db = crate::helpers::fresh_database_url().await;
    let port = free_port().to_string();
    let out = kontragent()
        .args(["check", "7701000058", "--sandbox"])
        .env("KONTRAGENT__DATABASE__URL", &db)
        .env("KONTRAGENT__SANDBOX__PORT", &port)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "review");
    let dir = std::env::temp_dir().join(format!("kontragent-explain-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/rules/default.toml"))
        .unwrap();
    // Reorganizing now rejects; a new rule reads the company's status.
    let at = text.find("id = \"reorganizing\"").unwrap();
    let effect = at + text[at..].find("effect = \"review\"").unwrap();
    let mut changed = format!(
        "{}effect = \"reject\"{}",
        &text[..effect],
        &text[effect + "effect = \"review\"".len()..]
    );
    changed.push_str("\n[[rules]]\nid = \"active_note\"\ntitle = \"Note\"\nwhen = \"company.status != 'ACTIVE'\"\neffect = \"score\"\ndelta = 0\n");
    std::fs::write(dir.join("c.toml"), changed).unwrap();
    let out = kontragent()
        .args(["rules", "explain", "7701000058", "--rules"])
        .arg(dir.join("c.toml"))
        .env("KONTRAGENT__DATABASE__URL", &db)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let decision = text.lines().find(|l| l.starts_with("Решение")).unwrap();
    assert!(
        decision.contains("НА ПРОВЕРКУ") && decision.ends_with("ОТКЛОНЕНО"),
        "{text}"
    );
    assert!(text.contains("  ~ [reject] reorganizing — "), "{text}");
    assert!(text.contains("  + [score +0] active_note — Note"), "{text}");
    let out = kontragent()
        .args(["rules", "explain", "7701000019"])
        .env("KONTRAGENT__DATABASE__URL", &db)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("has never been checked here"));
    let _ = std::fs::remove_dir_all(dir);
}

/// `kontragent rules dry-run FILE`: the API's dry-run on the terminal, in Russian.
#[tokio::test]
async fn rules_dry_run_replays_a_file_on_the_terminal() {
    let db = crate::helpers::fresh_database_url().await;
    let port = free_port().to_string();
    for inn in ["7701000019", "7701000058"] {
        let out = kontragent()
            .args(["check", inn, "--sandbox"])
            .env("KONTRAGENT__DATABASE__URL", &db)
            .env("KONTRAGENT__SANDBOX__PORT", &port)
            .output()
            .unwrap();
        assert!(out.status.code().is_some_and(|c| c == 0 || c == 2));
    }
    let dir = std::env::temp_dir().join(format!("kontragent-dry-run-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/rules/default.toml"))
            .unwrap();
    text.push_str("\n[[rules]]\nid = \"small_penalty\"\ntitle = \"Штраф\"\nwhen = \"company.known == true\"\neffect = \"score\"\ndelta = -1\n");
    std::fs::write(dir.join("c.toml"), &text).unwrap();
    let out = kontragent()
        .args(["rules", "dry-run"])
        .arg(dir.join("c.toml"))
        .args(["--from", "2020-01-01T00:00:00Z"])
        .env("KONTRAGENT__DATABASE__URL", &db)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{shown}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        shown.contains(
            "компаний 2, проверок 2 (последняя у каждой), меняется решение у 0, причины у 2"
        ),
        "{shown}"
    );
    assert!(
        shown.contains("small_penalty                    0 → 2"),
        "{shown}"
    );
    assert!(
        shown.contains("  7701000019  ОДОБРЕНО → ОДОБРЕНО  балл 99  +small_penalty"),
        "{shown}"
    );
    // A bad file is refused with its rule and line, nothing replayed.
    std::fs::write(
        dir.join("bad.toml"),
        text.replace("company.known == true", "company.known == 'yes'"),
    )
    .unwrap();
    let out = kontragent()
        .args(["rules", "dry-run"])
        .arg(dir.join("bad.toml"))
        .env("KONTRAGENT__DATABASE__URL", &db)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("rule `small_penalty` (line"), "{err}");
}

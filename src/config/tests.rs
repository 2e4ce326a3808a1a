//! Loading, layering and validating the settings.

use super::*;

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn defaults_load() {
    let s = Settings::load_from(None, &env(&[])).unwrap();
    assert_eq!(s.server.port, 8080);
    assert_eq!(s.sources["egrul"].base_url, "https://egrul.nalog.ru");
    assert_eq!(s.sources["pb"].base_url, "https://pb.nalog.ru");
}

#[test]
fn a_global_proxy_applies_to_every_registry_unless_one_has_its_own_or_goes_direct() {
    let s = Settings::load_from(
        None,
        &env(&[
            ("KONTRAGENT__SOURCES__PROXY", "socks5://u:p@127.0.0.1:1080"),
            ("KONTRAGENT__SOURCES__KAD__PROXY", "http://127.0.0.1:3128"),
            ("KONTRAGENT__SOURCES__EGRUL__PROXY", "direct"),
            ("KONTRAGENT__SOURCES__PB__TIMEOUT_MS", "30000"),
        ]),
    )
    .unwrap();
    let proxy = |name: &str| s.sources.proxy_of(name).map(|p| p.expose().to_owned());
    assert_eq!(proxy("pb").as_deref(), Some("socks5://u:p@127.0.0.1:1080"));
    assert_eq!(proxy("kad").as_deref(), Some("http://127.0.0.1:3128"));
    assert_eq!(proxy("egrul"), None);
    // The registries' own keys still take env strings as numbers.
    assert_eq!(s.sources["pb"].timeout_ms, 30_000);
    assert_eq!(s.sources.probe_inn, "7707083893");
    let none = Settings::load_from(None, &env(&[])).unwrap();
    assert_eq!(none.sources.proxy_of("pb"), None);
}

#[test]
fn a_bad_proxy_names_its_key_and_never_its_password() {
    for (var, key) in [
        ("KONTRAGENT__SOURCES__PROXY", "sources.proxy"),
        (
            "KONTRAGENT__SOURCES__FEDRESURS__PROXY",
            "sources.fedresurs.proxy",
        ),
    ] {
        let err = Settings::load_from(None, &env(&[(var, "ftp://user:hunter2@127.0.0.1:21")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains(key), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }
    let err = Settings::load_from(None, &env(&[("KONTRAGENT__SOURCES__PROXI", "x")]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("sources.proxi"), "{err}");
}

#[test]
fn env_overrides_nested_keys_with_types() {
    let s = Settings::load_from(
        None,
        &env(&[
            ("KONTRAGENT__SERVER__PORT", "9000"),
            ("KONTRAGENT__SOURCES__PB__ENABLED", "false"),
            ("KONTRAGENT__SOURCES__EGRUL__RPS", "2"),
            (
                "KONTRAGENT__SOURCES__EGRUL__BASE_URL",
                "http://127.0.0.1:1/x",
            ),
            (
                "KONTRAGENT__DATABASE__URL",
                "postgres://postgres@127.0.0.1/test",
            ),
        ]),
    )
    .unwrap();
    assert_eq!(s.server.port, 9000);
    assert!(!s.sources["pb"].enabled);
    assert_eq!(s.sources["egrul"].rps, 2.0);
    assert_eq!(s.sources["egrul"].base_url, "http://127.0.0.1:1/x");
    assert_eq!(s.sources["egrul"].timeout_ms, 12_000);
}

#[test]
fn an_amocrm_account_is_configured_from_env_under_its_subdomain() {
    let s = Settings::load_from(
        None,
        &env(&[
            (
                "KONTRAGENT__INTEGRATIONS__AMOCRM__ACCOUNTS__ACMETRADE__WEBHOOK_TOKEN",
                "Hk2-secret",
            ),
            (
                "KONTRAGENT__INTEGRATIONS__AMOCRM__ACCOUNTS__ACMETRADE__INN_FIELD_ID",
                "512733",
            ),
            ("KONTRAGENT__INTEGRATIONS__BITRIX24__CLIENT_ID", "local.app"),
        ]),
    )
    .unwrap();
    let account = &s.integrations.amocrm.accounts["acmetrade"];
    assert_eq!(account.webhook_token.expose(), "Hk2-secret");
    assert_eq!(account.inn_field_id, 512733);
    assert_eq!(account.decision_field_id, 0, "not given: not written");
    assert!(account.base_url.is_empty());
    assert_eq!(s.integrations.bitrix24.client_id, "local.app");
}

#[test]
fn a_list_in_env_is_comma_separated() {
    let s = Settings::load_from(
        None,
        &env(&[(
            "KONTRAGENT__CORS__ALLOWED_ORIGINS",
            "https://a.ru, https://b.ru",
        )]),
    )
    .unwrap();
    assert_eq!(s.cors.allowed_origins, ["https://a.ru", "https://b.ru"]);
}

#[test]
fn a_digits_only_string_keeps_its_leading_zeros() {
    let s = Settings::load_from(
        None,
        &env(&[
            ("KONTRAGENT__AUTH__API_KEYS", "0012345678901234567890"),
            ("KONTRAGENT__RULES__DEFAULT_PROFILE", "007"),
        ]),
    )
    .unwrap();
    assert_eq!(s.auth.api_keys, [Secret::new("0012345678901234567890")]);
    assert_eq!(s.rules.default_profile, "007");
}

#[test]
fn a_variable_that_nests_below_a_value_is_refused() {
    // The old loader dropped such a variable without a word.
    let err = Settings::load_from(None, &env(&[("KONTRAGENT__SERVER__PORT__X", "1")])).unwrap_err();
    assert!(err.to_string().contains("server.port"), "{err}");
}

#[test]
fn unknown_key_is_named() {
    let err = Settings::load_from(None, &env(&[("KONTRAGENT__SERVER__PROT", "1")])).unwrap_err();
    assert!(err.to_string().contains("prot"), "{err}");
    let err = Settings::load_from(
        None,
        &env(&[("KONTRAGENT__SOURCES__NOPE__ENABLED", "true")]),
    )
    .unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
}

#[test]
fn bad_value_is_named() {
    let err =
        Settings::load_from(None, &env(&[("KONTRAGENT__SERVER__PORT", "eighty")])).unwrap_err();
    assert!(err.to_string().contains("server.port"), "{err}");
    let err = Settings::load_from(None, &env(&[("KONTRAGENT__SOURCES__PB__TIMEOUT_MS", "0")]))
        .unwrap_err();
    assert!(err.to_string().contains("sources.pb.timeout_ms"), "{err}");
    let err =
        Settings::load_from(None, &env(&[("KONTRAGENT__DATABASE__URL", "mysql://x")])).unwrap_err();
    assert!(err.to_string().contains("database.url"), "{err}");
    let err = Settings::load_from(
        None,
        &env(&[("KONTRAGENT__SOURCES__KAD__MAX_STALE_S", "9000000000000")]),
    )
    .unwrap_err();
    assert!(err.to_string().contains("sources.kad.max_stale_s"), "{err}");
    let err = Settings::load_from(
        None,
        &env(&[(
            "KONTRAGENT__RULES__DRY_RUN_TIMEOUT_MS",
            "18446744073709551615",
        )]),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("rules.dry_run_timeout_ms"),
        "{err}"
    );
}

#[test]
fn file_layer_sits_between_defaults_and_env() {
    let dir = std::env::temp_dir().join(format!("kontragent-cfg-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("k.toml");
    std::fs::write(
        &file,
        "[server]\nport = 7000\nhost = \"0.0.0.0\"\n[sources.egrul]\nttl_s = 60\n",
    )
    .unwrap();
    let s =
        Settings::load_from(Some(&file), &env(&[("KONTRAGENT__SERVER__PORT", "7001")])).unwrap();
    assert_eq!(s.server.port, 7001);
    assert_eq!(s.server.host, "0.0.0.0");
    assert_eq!(s.sources["egrul"].ttl_s, 60);
    assert_eq!(s.sources["egrul"].base_url, "https://egrul.nalog.ru");
    std::fs::write(&file, "[server]\nport = 1\nbogus = 2\n").unwrap();
    let err = Settings::load_from(Some(&file), &env(&[])).unwrap_err();
    assert!(err.to_string().contains("bogus"), "{err}");
}

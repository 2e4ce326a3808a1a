//! The sandbox's scenario table: which INN shows which registry behaviour.
//! The answers themselves are hand-written fixture files in the crate's `fixtures/` (the
//! tests read the same files), in the
//! registries' own formats (registries.md §2, §3).

/// How one registry behaves for a scenario INN.
#[derive(Debug, Clone, Copy)]
pub enum Plan {
    /// The normal flow, ending with these answers. `card` is PB's company card.
    /// `wait`: the first poll answers "not ready yet". `sync`: PB's pre-2022 shape,
    /// the rows in the first answer.
    Answer {
        search: &'static str,
        card: Option<&'static str>,
        wait: bool,
        sync: bool,
    },
    /// The first request is answered with this body (a captcha demand).
    FirstStep(&'static str),
    /// The first request gets this HTTP status and an empty body.
    Status(u16),
    /// The first request gets this HTTP status with this JSON body (nalog.ru's 400 with
    /// `ERRORS`, registries.md §16).
    StatusWith(u16, &'static str),
    /// PB: an active company's search answers, its card's `get-response` gets this HTTP
    /// status (500 is what a non-Russian address gets, registries.md §16).
    CardStatus(u16),
    /// The first request is answered only after [`SLOW_ANSWER`].
    Slow,
    /// The result request gets this body with this content type.
    Garbage(&'static str, &'static str),
    /// egrul and pb: an ordinary active company, from the templates, with the scenario's identity.
    Active,
    /// fedresurs: the search answer, the bankruptcy card, and the publication pages.
    Fedresurs {
        search: &'static str,
        card: Option<&'static str>,
        pages: &'static [&'static str],
    },
    /// kad: the rows as respondent and as plaintiff, and the totals of the other queries.
    Kad {
        respondent: &'static str,
        plaintiff: &'static str,
        recent_total: u32,
        bankruptcy_total: u32,
    },
    /// The registry knows nothing about the INN.
    Absent,
    /// The first plan for the first search of the INN, the second for every later one:
    /// a company whose state changes between checks.
    AfterFirst(&'static Plan, &'static Plan),
}

/// How long a "slow" registry takes: far beyond any sensible timeout.
pub const SLOW_ANSWER: std::time::Duration = std::time::Duration::from_secs(30);

pub struct Scenario {
    pub inn: &'static str,
    pub title: &'static str,
    /// What the default rules decide, and why, for people reading the table.
    pub expect: &'static str,
    /// OGRN, short name (`ООО "X"`) and the name inside the quotes, for the templates.
    pub identity: (&'static str, &'static str, &'static str),
    pub egrul: Plan,
    pub pb: Plan,
    pub fedresurs: Plan,
    pub bankrot: Plan,
    pub kad: Plan,
}

/// What a scenario does not say otherwise: registries that know nothing.
const BASE: Scenario = Scenario {
    inn: "",
    title: "",
    expect: "",
    identity: ("", "", ""),
    egrul: Plan::Absent,
    pb: Plan::Absent,
    fedresurs: Plan::Absent,
    bankrot: Plan::Absent,
    kad: Plan::Absent,
};

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!("../../fixtures/", $name))
    };
}

const fn fed(search: &'static str, card: &'static str, pages: &'static [&'static str]) -> Plan {
    Plan::Fedresurs {
        search,
        card: Some(card),
        pages,
    }
}

const FED_CARD_NONE: &str = fixture!("fedresurs-card-none.json");
const KAD_EMPTY: &str = fixture!("kad-empty.html");

/// An active company whose only news is in fedresurs, bankrot or kad.
const fn active(identity: (&'static str, &'static str, &'static str)) -> Scenario {
    Scenario {
        identity,
        egrul: Plan::Active,
        pb: Plan::Active,
        ..BASE
    }
}

const fn answer(search: &'static str) -> Plan {
    Plan::Answer {
        search,
        card: None,
        wait: false,
        sync: false,
    }
}

const fn pb(search: &'static str, card: &'static str) -> Plan {
    Plan::Answer {
        search,
        card: Some(card),
        wait: false,
        sync: false,
    }
}

pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        inn: "7701000019",
        title: "Clean company (both registries answer \"wait\" first; a fuzzy unrelated row too)",
        expect: "approve",
        egrul: Plan::Answer {
            search: fixture!("egrul-clean.json"),
            card: None,
            wait: true,
            sync: false,
        },
        pb: Plan::Answer {
            search: fixture!("pb-search-clean.json"),
            card: Some(fixture!("pb-card-clean.json")),
            wait: true,
            sync: false,
        },
        ..BASE
    },
    Scenario {
        inn: "7701000026",
        title: "Liquidated (egrul termination date, PB card `liquidated`)",
        expect: "reject: terminated",
        egrul: answer(fixture!("egrul-liquidated.json")),
        pb: pb(
            fixture!("pb-search-liquidated.json"),
            fixture!("pb-card-liquidated.json"),
        ),
        ..BASE
    },
    Scenario {
        inn: "7701000033",
        title: "In liquidation (PB `pr_liq`, «Находится в стадии ликвидации»)",
        expect: "reject: liquidating",
        egrul: answer(fixture!("egrul-liquidating.json")),
        pb: pb(
            fixture!("pb-search-liquidating.json"),
            fixture!("pb-card-liquidating.json"),
        ),
        ..BASE
    },
    Scenario {
        inn: "7701000040",
        title: "Bankruptcy stage (наблюдение), tax arrears",
        expect: "reject: bankruptcy_active, bankruptcy_case_as_debtor, bankruptcy_stage",
        egrul: answer(fixture!("egrul-bankruptcy.json")),
        pb: pb(
            fixture!("pb-search-bankruptcy.json"),
            fixture!("pb-card-bankruptcy.json"),
        ),
        identity: ("1027701000040", "ООО \"КРЕДО-СТРОЙ\"", "КРЕДО-СТРОЙ"),
        fedresurs: fed(
            fixture!("fedresurs-search-bankruptcy.json"),
            fixture!("fedresurs-card-bankruptcy.json"),
            &[],
        ),
        bankrot: answer(fixture!("bankrot-bankruptcy.json")),
        kad: Plan::Kad {
            respondent: fixture!("kad-bankruptcy-respondent.html"),
            plaintiff: KAD_EMPTY,
            recent_total: 1,
            bankruptcy_total: 1,
        },
    },
    Scenario {
        inn: "7701000058",
        title: "Reorganizing (being absorbed by another company)",
        expect: "review: reorganizing",
        egrul: answer(fixture!("egrul-reorganizing.json")),
        pb: pb(
            fixture!("pb-search-reorganizing.json"),
            fixture!("pb-card-reorganizing.json"),
        ),
        ..BASE
    },
    Scenario {
        inn: "7701000065",
        title: "Unreliable data mark (недостоверность)",
        expect: "review: unreliable_data",
        egrul: answer(fixture!("egrul-unreliable.json")),
        pb: pb(
            fixture!("pb-search-unreliable.json"),
            fixture!("pb-card-unreliable.json"),
        ),
        ..BASE
    },
    Scenario {
        inn: "7701000072",
        title: "Mass address and tax arrears (PB's old synchronous search shape, flags as strings)",
        expect: "review: score 55 (mass_address, tax_arrears)",
        egrul: answer(fixture!("egrul-mass-address.json")),
        pb: Plan::Answer {
            search: fixture!("pb-search-mass-address.json"),
            card: Some(fixture!("pb-card-mass-address.json")),
            wait: false,
            sync: true,
        },
        ..BASE
    },
    Scenario {
        inn: "770100000142",
        title: "Individual entrepreneur (an old closed registration and the current one)",
        expect: "approve",
        egrul: answer(fixture!("egrul-entrepreneur.json")),
        pb: pb(
            fixture!("pb-search-entrepreneur.json"),
            fixture!("pb-card-entrepreneur.json"),
        ),
        ..BASE
    },
    Scenario {
        inn: "7701000080",
        title: "Not found in any registry",
        expect: "review: unknown_company",
        ..BASE
    },
    Scenario {
        inn: "770100000216",
        title: "A person who is not an entrepreneur (12 digits, no rows)",
        expect: "review: unknown_company",
        ..BASE
    },
    Scenario {
        inn: "7701000097",
        title: "Captcha (egrul `captchaRequired`, PB `ERRORS.pbSearchCaptcha`)",
        expect: "review: required_source_unchecked",
        egrul: Plan::FirstStep(fixture!("egrul-captcha.json")),
        pb: Plan::FirstStep(fixture!("pb-captcha.json")),
        ..BASE
    },
    Scenario {
        inn: "7701000107",
        title: "Slow answer (both registries take 30 s)",
        expect: "review: required_source_unchecked (timeout)",
        egrul: Plan::Slow,
        pb: Plan::Slow,
        fedresurs: Plan::Slow,
        bankrot: Plan::Slow,
        kad: Plan::Slow,
        ..BASE
    },
    Scenario {
        inn: "7701000114",
        title: "Garbage (egrul HTML maintenance page, PB truncated JSON)",
        expect: "review: required_source_unchecked (garbage)",
        egrul: Plan::Garbage(fixture!("egrul-garbage.html"), "text/html; charset=utf-8"),
        pb: Plan::Garbage(fixture!("pb-search-garbage.json"), "application/json"),
        fedresurs: Plan::Garbage(
            fixture!("fedresurs-garbage.html"),
            "text/html; charset=utf-8",
        ),
        bankrot: Plan::Garbage(fixture!("bankrot-garbage.json"), "application/json"),
        kad: Plan::Garbage(fixture!("kad-garbage.html"), "text/html; charset=utf-8"),
        ..BASE
    },
    Scenario {
        inn: "7701000121",
        title: "Young company (registered about 3 months ago)",
        expect: "review: young_company",
        egrul: answer(fixture!("egrul-young.json")),
        pb: pb(
            fixture!("pb-search-young.json"),
            fixture!("pb-card-young.json"),
        ),
        ..BASE
    },
    Scenario {
        inn: "7701000139",
        title: "Upcoming exclusion from ЕГРЮЛ, no reporting",
        expect: "reject: exclusion_pending",
        egrul: answer(fixture!("egrul-exclusion.json")),
        pb: pb(
            fixture!("pb-search-exclusion.json"),
            fixture!("pb-card-exclusion.json"),
        ),
        ..BASE
    },
    Scenario {
        inn: "7701000146",
        title: "A status text the service does not recognise",
        expect: "review: status_unrecognised",
        egrul: answer(fixture!("egrul-unrecognised.json")),
        pb: pb(
            fixture!("pb-search-unrecognised.json"),
            fixture!("pb-card-unrecognised.json"),
        ),
        ..BASE
    },
    Scenario {
        inn: "7701000153",
        title: "PB refuses (HTTP 403), egrul answers",
        expect: "review: required_source_unchecked (http_403)",
        egrul: answer(fixture!("egrul-pb-blocked.json")),
        pb: Plan::Status(403),
        ..BASE
    },
    Scenario {
        inn: "7702000205",
        title: "Bankruptcy: observation (fedresurs, bankrot and a kad case; PB still says active)",
        expect: "reject: bankruptcy_active, bankruptcy_case_as_debtor",
        fedresurs: fed(
            fixture!("fedresurs-search-observation.json"),
            fixture!("fedresurs-card-observation.json"),
            &[],
        ),
        bankrot: answer(fixture!("bankrot-observation.json")),
        kad: Plan::Kad {
            respondent: fixture!("kad-bankruptcy-respondent.html"),
            plaintiff: KAD_EMPTY,
            recent_total: 1,
            bankruptcy_total: 1,
        },
        ..active(("1027702000204", "ООО \"ОПОРА-СТРОЙ\"", "ОПОРА-СТРОЙ"))
    },
    Scenario {
        inn: "7702000212",
        title: "Bankruptcy: competitive proceedings (конкурсное производство)",
        expect: "reject: bankruptcy_active",
        fedresurs: fed(
            fixture!("fedresurs-search-tender.json"),
            fixture!("fedresurs-card-tender.json"),
            &[],
        ),
        bankrot: answer(fixture!("bankrot-tender.json")),
        ..active(("1027702000215", "ООО \"ТЕХНОПАРК\"", "ТЕХНОПАРК"))
    },
    Scenario {
        inn: "7702000220",
        title: "A bank intends to file for the company's bankruptcy (company as participant; an annulled one too)",
        expect: "review: creditor_intent",
        fedresurs: fed(
            fixture!("fedresurs-search-creditor-intent.json"),
            FED_CARD_NONE,
            &[fixture!("fedresurs-publications-creditor-intent.json")],
        ),
        ..active(("1027702000226", "ООО \"ЛЕСТОРГ\"", "ЛЕСТОРГ"))
    },
    Scenario {
        inn: "7702000237",
        title: "A bank that publishes creditors' intentions about others (no signal; a message without publisher; an old reorganization)",
        expect: "approve",
        fedresurs: fed(
            fixture!("fedresurs-search-publisher.json"),
            FED_CARD_NONE,
            &[
                fixture!("fedresurs-publications-publisher-1.json"),
                fixture!("fedresurs-publications-publisher-2.json"),
            ],
        ),
        ..active(("1027702000237", "АО \"БАНК ПРИМЕР\"", "БАНК ПРИМЕР"))
    },
    Scenario {
        inn: "7702000244",
        title: "Reorganization notice (being merged into another company, 100 days ago)",
        expect: "review: reorganization_notice",
        fedresurs: fed(
            fixture!("fedresurs-search-reorganization.json"),
            FED_CARD_NONE,
            &[fixture!("fedresurs-publications-reorganization.json")],
        ),
        ..active(("1027702000248", "ООО \"СЛИЯНИЕ\"", "СЛИЯНИЕ"))
    },
    Scenario {
        inn: "7702000251",
        title: "Liquidation decision published by the company (not yet in ЕГРЮЛ)",
        expect: "reject: liquidation_notice",
        fedresurs: fed(
            fixture!("fedresurs-search-liquidation.json"),
            FED_CARD_NONE,
            &[fixture!("fedresurs-publications-liquidation.json")],
        ),
        ..active(("1027702000259", "ООО \"ФИНАЛ\"", "ФИНАЛ"))
    },
    Scenario {
        inn: "7702000269",
        title: "Many court cases as respondent (37, 14 in 12 months)",
        expect: "review: many_respondent_cases (score 80)",
        kad: Plan::Kad {
            respondent: fixture!("kad-many-respondent.html"),
            plaintiff: fixture!("kad-many-plaintiff.html"),
            recent_total: 14,
            bankruptcy_total: 0,
        },
        ..active(("1027702000260", "ООО \"СПОРЩИК\"", "СПОРЩИК"))
    },
    Scenario {
        inn: "7702000276",
        title: "A bankruptcy case as debtor seen only in kad",
        expect: "reject: bankruptcy_case_as_debtor",
        kad: Plan::Kad {
            respondent: fixture!("kad-bankruptcy-respondent.html"),
            plaintiff: KAD_EMPTY,
            recent_total: 1,
            bankruptcy_total: 1,
        },
        ..active(("1027702000270", "ООО \"ТИХИЙ ДОЛЖНИК\"", "ТИХИЙ ДОЛЖНИК"))
    },
    Scenario {
        inn: "7702000283",
        title: "A truncated fedresurs page (40 fuzzy matches, 15 read, the INN not among them)",
        expect: "review: required_source_unchecked (incomplete)",
        fedresurs: Plan::Fedresurs {
            search: fixture!("fedresurs-search-truncated.json"),
            card: None,
            pages: &[],
        },
        ..active(("1027702000281", "ООО \"ВЕКТОР\"", "ВЕКТОР"))
    },
    Scenario {
        inn: "7702000290",
        title: "kad refuses the cookie as expired (HTTP 451): court cases not checked, shown as a reason",
        expect: "approve, with court_cases_unchecked",
        kad: Plan::Status(451),
        ..active(("1027702000292", "ООО \"ЧИСТОЕ\"", "ЧИСТОЕ"))
    },
    Scenario {
        inn: "7702000300",
        title: "fedresurs refuses (HTTP 403, as without a Referer)",
        expect: "review: required_source_unchecked (http_403)",
        fedresurs: Plan::Status(403),
        ..active(("1027702000303", "ООО \"ЗАКРЫТОЕ\"", "ЗАКРЫТОЕ"))
    },
    Scenario {
        inn: "7702000318",
        title: "A bankruptcy that ended years ago (bankrot, HTML entities in the name)",
        expect: "approve",
        bankrot: answer(fixture!("bankrot-ended.json")),
        ..active((
            "1027702000314",
            "ООО \"ВТОРОЕ ДЫХАНИЕ\" & К",
            "ВТОРОЕ ДЫХАНИЕ",
        ))
    },
    Scenario {
        inn: "7702000332",
        title: "Goes into bankruptcy on its second check (fedresurs and bankrot change; for monitoring)",
        expect: "approve, then reject: bankruptcy_active",
        fedresurs: Plan::AfterFirst(
            &Plan::Absent,
            &Plan::Fedresurs {
                search: fixture!("fedresurs-search-turning-template.json"),
                card: Some(fixture!("fedresurs-card-observation.json")),
                pages: &[],
            },
        ),
        ..TURNING
    },
    // ── Shapes that clients of the live sites recorded in 2026 (registries.md §16) ──
    Scenario {
        inn: "7703000014",
        title: "fedresurs card lists several cases in no order: an old completed one first, a running observation (code `Watching`, words in `description`) second",
        expect: "reject: bankruptcy_active",
        fedresurs: fed(
            fixture!("fedresurs-search-several-cases.json"),
            fixture!("fedresurs-card-several-cases.json"),
            &[],
        ),
        ..active(("1027703000016", "ООО \"ДВА ДЕЛА\"", "ДВА ДЕЛА"))
    },
    Scenario {
        inn: "7703000021",
        title: "fedresurs: a case stopped (code `ProceedingsStopped`, words only in `description`)",
        expect: "approve",
        fedresurs: fed(
            fixture!("fedresurs-search-stopped.json"),
            fixture!("fedresurs-card-stopped.json"),
            &[],
        ),
        ..active(("1027703000027", "ООО \"ПРЕКРАЩЕНО\"", "ПРЕКРАЩЕНО"))
    },
    Scenario {
        inn: "7703000039",
        title: "fedresurs: a bankruptcy case status code the service does not know",
        expect: "review: status_unrecognised",
        fedresurs: fed(
            fixture!("fedresurs-search-unknown-code.json"),
            fixture!("fedresurs-card-unknown-code.json"),
            &[],
        ),
        ..active(("1027703000038", "ООО \"НОВЫЙ КОД\"", "НОВЫЙ КОД"))
    },
    Scenario {
        inn: "7703000046",
        title: "bankrot: `isActive: true` on a stopped case (`ProceedingsStopped`, row status «Действующее»)",
        expect: "approve",
        bankrot: answer(fixture!("bankrot-stopped-active-flag.json")),
        ..active(("1027703000049", "ООО \"ФЛАЖОК\"", "ФЛАЖОК"))
    },
    Scenario {
        inn: "7703000053",
        title: "fedresurs: 1 240 messages, more than `max_pages` read (a bank publishing creditors' intentions about others; procedure messages and an annulled one)",
        expect: "approve, with publications_truncated",
        fedresurs: fed(
            fixture!("fedresurs-search-large.json"),
            FED_CARD_NONE,
            &[
                fixture!("fedresurs-publications-large.json"),
                fixture!("fedresurs-publications-large.json"),
                fixture!("fedresurs-publications-large.json"),
                fixture!("fedresurs-publications-large.json"),
            ],
        ),
        ..active(("1027703000050", "ПАО \"БОЛЬШОЙ БАНК\"", "БОЛЬШОЙ БАНК"))
    },
    Scenario {
        inn: "7703000060",
        title: "PB card as live clients see it: no `masaddress` key, `arrear` rows with `empty` flags",
        expect: "approve, score 90 (tax_arrears)",
        pb: pb(
            fixture!("pb-search-active-template.json"),
            fixture!("pb-card-live-2026.json"),
        ),
        ..active(("1027703000060", "ООО \"ЗНАМЕНКА\"", "ЗНАМЕНКА"))
    },
    Scenario {
        inn: "7703000078",
        title: "nalog.ru answers HTTP 400 with `ERRORS` (egrul `captcha`, PB `pbRateLimit`)",
        expect: "review: required_source_unchecked (captcha)",
        egrul: Plan::StatusWith(400, fixture!("egrul-400-captcha.json")),
        pb: Plan::StatusWith(400, fixture!("pb-400-rate-limit.json")),
        ..BASE
    },
    Scenario {
        inn: "7703000085",
        title: "PB's card answers HTTP 500, as it does to a non-Russian address (search rows read)",
        expect: "review: required_source_unchecked (http_500)",
        pb: Plan::CardStatus(500),
        ..active(("1027703000071", "ООО \"ЗАГРАНИЦА\"", "ЗАГРАНИЦА"))
    },
    Scenario {
        inn: "7707083893",
        title: "The INN in the API documentation's examples and `sources.probe_inn`: a large bank, approved (sandbox data, not the registries')",
        expect: "approve",
        ..active(("1027700132195", "ПАО СБЕРБАНК", "СБЕРБАНК"))
    },
    Scenario {
        inn: "7703000092",
        title: "A name with quotes, `<` and `&`, as registries write some (the report must escape it)",
        expect: "approve",
        ..active((
            "1027703000093",
            "ООО \"<ТОРГ & СЕРВИС>\"",
            "<ТОРГ & СЕРВИС>",
        ))
    },
];

/// A company that goes into bankruptcy on its second check: fedresurs and bankrot know
/// nothing the first time they are asked, then report an observation procedure.
const TURNING: Scenario = Scenario {
    fedresurs: Plan::AfterFirst(
        &Plan::Absent,
        &Plan::Fedresurs {
            search: fixture!("fedresurs-search-turning-template.json"),
            card: Some(fixture!("fedresurs-card-observation.json")),
            pages: &[],
        },
    ),
    bankrot: Plan::AfterFirst(
        &Plan::Absent,
        &answer(fixture!("bankrot-turning-template.json")),
    ),
    ..active(("1027702000336", "ООО \"ПОВОРОТ\"", "ПОВОРОТ"))
};

/// INNs with this prefix all behave like 7702000332 (bankrupt on the second check), so a
/// large catalog can be monitored end to end.
pub const TURNING_PREFIX: &str = "77050";

pub fn find(inn: &str) -> Option<&'static Scenario> {
    SCENARIOS
        .iter()
        .find(|s| s.inn == inn)
        .or_else(|| turning(inn))
}

/// The scenario of a `TURNING_PREFIX` INN, made once and kept for the process's life.
fn turning(inn: &str) -> Option<&'static Scenario> {
    use std::collections::HashMap;
    use std::sync::{LazyLock, Mutex};
    static MADE: LazyLock<Mutex<HashMap<String, &'static Scenario>>> =
        LazyLock::new(Default::default);
    if !(inn.len() == 10
        && inn.starts_with(TURNING_PREFIX)
        && crate::domain::Inn::parse(inn).is_ok())
    {
        return None;
    }
    let mut made = match MADE.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    };
    let scenario = made.entry(inn.to_owned()).or_insert_with(|| {
        let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
        let ogrn = crate::domain::Ogrn::complete(&format!("10277{}", &inn[3..10]))
            .map(|o| o.to_string())
            .unwrap_or_default();
        let core = leak(format!("ПОВОРОТ-{inn}"));
        Box::leak(Box::new(Scenario {
            inn: leak(inn.to_owned()),
            title: "goes into bankruptcy on its second check",
            expect: "approve, then reject",
            identity: (leak(ogrn), leak(format!("ООО \"{core}\"")), core),
            ..TURNING
        }))
    });
    Some(*scenario)
}

#[cfg(test)]
mod tests {
    use super::SCENARIOS;
    use crate::domain::Inn;

    #[test]
    fn every_scenario_inn_is_valid_and_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for s in SCENARIOS {
            assert!(Inn::parse(s.inn).is_ok(), "{}", s.inn);
            assert!(seen.insert(s.inn), "duplicate {}", s.inn);
        }
    }
}

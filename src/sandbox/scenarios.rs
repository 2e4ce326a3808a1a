//! The sandbox's scenario table: which INN shows which registry behaviour.
//! The answers themselves are hand-written fixture files in `fixtures/`, in the
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
    /// The first request is answered only after [`SLOW_ANSWER`].
    Slow,
    /// The result request gets this body with this content type.
    Garbage(&'static str, &'static str),
}

/// How long a "slow" registry takes: far beyond any sensible timeout.
pub const SLOW_ANSWER: std::time::Duration = std::time::Duration::from_secs(30);

pub struct Scenario {
    pub inn: &'static str,
    pub title: &'static str,
    /// What the default rules decide, and why, for people reading the table.
    pub expect: &'static str,
    pub egrul: Plan,
    pub pb: Plan,
}

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!("fixtures/", $name))
    };
}

const EGRUL_EMPTY: &str = fixture!("egrul-empty.json");
const PB_EMPTY: &str = fixture!("pb-search-empty.json");

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
    },
    Scenario {
        inn: "7701000040",
        title: "Bankruptcy stage (наблюдение), tax arrears",
        expect: "reject: bankruptcy_stage",
        egrul: answer(fixture!("egrul-bankruptcy.json")),
        pb: pb(
            fixture!("pb-search-bankruptcy.json"),
            fixture!("pb-card-bankruptcy.json"),
        ),
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
    },
    Scenario {
        inn: "7701000080",
        title: "Not found in any registry",
        expect: "review: unknown_company",
        egrul: answer(EGRUL_EMPTY),
        pb: answer(PB_EMPTY),
    },
    Scenario {
        inn: "770100000216",
        title: "A person who is not an entrepreneur (12 digits, no rows)",
        expect: "review: unknown_company",
        egrul: answer(EGRUL_EMPTY),
        pb: answer(PB_EMPTY),
    },
    Scenario {
        inn: "7701000097",
        title: "Captcha (egrul `captchaRequired`, PB `ERRORS.pbSearchCaptcha`)",
        expect: "review: required_source_unchecked",
        egrul: Plan::FirstStep(fixture!("egrul-captcha.json")),
        pb: Plan::FirstStep(fixture!("pb-captcha.json")),
    },
    Scenario {
        inn: "7701000107",
        title: "Slow answer (both registries take 30 s)",
        expect: "review: required_source_unchecked (timeout)",
        egrul: Plan::Slow,
        pb: Plan::Slow,
    },
    Scenario {
        inn: "7701000114",
        title: "Garbage (egrul HTML maintenance page, PB truncated JSON)",
        expect: "review: required_source_unchecked (garbage)",
        egrul: Plan::Garbage(fixture!("egrul-garbage.html"), "text/html; charset=utf-8"),
        pb: Plan::Garbage(fixture!("pb-search-garbage.json"), "application/json"),
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
    },
    Scenario {
        inn: "7701000153",
        title: "PB refuses (HTTP 403), egrul answers",
        expect: "review: required_source_unchecked (http_403)",
        egrul: answer(fixture!("egrul-pb-blocked.json")),
        pb: Plan::Status(403),
    },
];

pub fn find(inn: &str) -> Option<&'static Scenario> {
    SCENARIOS.iter().find(|s| s.inn == inn)
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

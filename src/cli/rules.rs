//! `kontragent rules …`: what an analyst does with a policy file on the terminal —
//! explain, dry-run, validate, test, and the list of facts — each the API's own code.

use anyhow::Context;
use clap::Subcommand;
use kontragent::config::Settings;
use kontragent::domain::Inn;
use kontragent::facts;
use kontragent::scoring::{Ruleset, golden};
use kontragent::startup;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum RulesCommand {
    /// Re-decide the latest stored check of an INN under a rules file, nothing fetched, and
    /// show it beside what was decided: the decision, the score, each reason kept (=),
    /// changed in effect (~), gone (-) or new (+).
    Explain {
        inn: String,
        /// The ruleset to try (defaults to rules.path).
        #[arg(long)]
        rules: Option<PathBuf>,
        /// The profile (defaults to the check's own).
        #[arg(long)]
        profile: Option<String>,
    },
    /// Replay a candidate ruleset on the stored facts of past checks, nothing fetched: how
    /// many decisions and reasons change, each rule's hits before and after, the checks that
    /// would miss a required registry, and examples with their messages.
    DryRun {
        /// The candidate ruleset file.
        file: PathBuf,
        /// Checks finished at or after this time (RFC 3339, e.g. 2026-11-01T00:00:00Z).
        #[arg(long)]
        from: Option<chrono::DateTime<chrono::Utc>>,
        /// Checks finished before this time (default: now).
        #[arg(long)]
        to: Option<chrono::DateTime<chrono::Utc>>,
        /// The latest check of every contractor in the catalog instead of a time range.
        #[arg(long)]
        catalog: bool,
        /// Judge every check under this profile (default: the profile each check used).
        #[arg(long)]
        profile: Option<String>,
        /// Most checks to replay (at most rules.dry_run_max_checks).
        #[arg(long)]
        limit: Option<u32>,
        /// Most examples to show (default 20).
        #[arg(long)]
        examples: Option<u32>,
        /// Print the report as the API's JSON.
        #[arg(long)]
        json: bool,
        /// FILE is a monitoring policy: judge every listed contractor under it and under
        /// the policy in force (without it the content decides); only --examples and
        /// --json apply then.
        #[arg(long)]
        monitoring: bool,
    },
    /// Compile a ruleset file and report every problem with its rule id and line.
    Validate {
        /// Defaults to rules.path (monitoring.rules_path with --monitoring).
        path: Option<PathBuf>,
        /// Read it as the monitoring policy (without it the content decides: no
        /// `[profiles]` and rules with a `status`).
        #[arg(long)]
        monitoring: bool,
    },
    /// Run the golden cases (rules/tests/*.toml) against a ruleset and show what differs.
    Test {
        /// The ruleset (defaults to rules.path).
        #[arg(long)]
        rules: Option<PathBuf>,
        /// A directory or a file of cases (defaults to `tests/` beside the ruleset).
        cases: Option<PathBuf>,
        /// The same as CASES: where the cases are, wherever the ruleset is.
        #[arg(long = "tests", conflicts_with = "cases")]
        tests: Option<PathBuf>,
        /// Test the monitoring policy (monitoring.rules_path) with rules/tests/monitoring/.
        #[arg(long)]
        monitoring: bool,
    },
    /// List every fact a rule condition may read.
    Facts {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Print the Markdown table of rules/FACTS.md.
        #[arg(long)]
        markdown: bool,
    },
}

/// Runs one `rules` command; a failing check of a file exits 1 with its problems.
pub async fn run(command: RulesCommand, settings: &Settings) -> anyhow::Result<()> {
    match command {
        RulesCommand::Explain {
            inn,
            rules,
            profile,
        } => {
            let inn = Inn::parse(&inn).map_err(|e| anyhow::anyhow!("{e} ({})", e.code()))?;
            let path = rules.unwrap_or_else(|| PathBuf::from(&settings.rules.path));
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let policy = startup::build_services(settings).await?.policy;
            let language = settings.check.default_language;
            let explained = match policy
                .explain_latest(&inn, Some(text), profile.as_deref(), language)
                .await
            {
                Ok(Some(explained)) => explained,
                Ok(None) => anyhow::bail!(
                    "INN {inn} has never been checked here: `kontragent check {inn}` first"
                ),
                Err(kontragent::policy::PolicyError::Invalid(errors)) => {
                    let list: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
                    anyhow::bail!("{}: {}", path.display(), list.join("; "))
                }
                Err(e) => return Err(e.into()),
            };
            print!(
                "{}",
                kontragent::human::explanation_text(&explained, settings.display.tz(), language)
            );
        }
        RulesCommand::DryRun {
            file,
            from,
            to,
            catalog,
            profile,
            limit,
            examples,
            json,
            monitoring,
        } => {
            use kontragent::policy::{PolicyError, PolicyKind};
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let refused = |errors: Vec<kontragent::rules::RuleError>| -> ! {
                for e in &errors {
                    eprintln!("{}: {e}", file.display());
                }
                std::process::exit(1);
            };
            let language = settings.check.default_language;
            if monitoring || PolicyKind::of(&text) == PolicyKind::Monitoring {
                let monitor = startup::build_services(settings).await?.monitor;
                let examples = examples.unwrap_or(20) as usize;
                let report = match monitor.dry_run(&text, examples, language).await {
                    Ok(report) => report,
                    Err(PolicyError::Invalid(errors)) => refused(errors),
                    Err(e) => return Err(e.into()),
                };
                return show(json, &report, |r| {
                    kontragent::human::monitoring_dry_run_text(r, language)
                });
            }
            let scope = kontragent::policy::DryRunScope {
                profile,
                from,
                to,
                limit,
                catalog: Some(catalog),
                examples,
            };
            let policy = startup::build_services(settings).await?.policy;
            let report = match policy.dry_run(&text, &scope, language).await {
                Ok(report) => report,
                Err(PolicyError::Invalid(errors)) => refused(errors),
                Err(e) => return Err(e.into()),
            };
            show(json, &report, |r| {
                kontragent::human::dry_run_text(r, language)
            })?;
        }
        RulesCommand::Validate { path, monitoring } => {
            use kontragent::policy::{PolicyKind, validate};
            let path = path.unwrap_or_else(|| {
                PathBuf::from(if monitoring {
                    &settings.monitoring.rules_path
                } else {
                    &settings.rules.path
                })
            });
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let kind = if monitoring {
                PolicyKind::Monitoring
            } else {
                PolicyKind::of(&text)
            };
            let v = validate(&text, kind);
            for w in &v.warnings {
                eprintln!("{}: warning: {w}", path.display());
            }
            if !v.valid {
                for e in &v.errors {
                    eprintln!("{}: {e}", path.display());
                }
                std::process::exit(1);
            }
            let what = match kind {
                PolicyKind::Scoring => format!("profiles: {}", v.profiles.join(", ")),
                PolicyKind::Monitoring => "monitoring policy".into(),
            };
            println!(
                "{}: ok — {} rules, {what}; version {}",
                path.display(),
                v.rules,
                v.version.unwrap_or_default()
            );
        }
        RulesCommand::Test {
            monitoring: true,
            rules,
            cases,
            tests,
        } => {
            let cases = tests.or(cases);
            let path = rules.unwrap_or_else(|| PathBuf::from(&settings.monitoring.rules_path));
            let policy = match kontragent::rules::load_file::<
                kontragent::monitoring::rules::MonitoringPolicy,
            >(&path)
            {
                Ok(p) => p,
                Err(errors) => {
                    for e in &errors {
                        eprintln!("{}: {e}", path.display());
                    }
                    std::process::exit(1);
                }
            };
            let cases = cases.unwrap_or_else(|| {
                path.parent()
                    .unwrap_or(std::path::Path::new("."))
                    .join("tests/monitoring")
            });
            let outcomes = kontragent::monitoring::rules::golden::run_dir(&policy, &cases)
                .map_err(|e| anyhow::anyhow!(e))?;
            report_cases(&outcomes, policy.rules.iter().map(|r| r.id.as_str()));
        }
        RulesCommand::Test {
            rules,
            cases,
            tests,
            ..
        } => {
            let cases = tests.or(cases);
            let rules = rules.unwrap_or_else(|| PathBuf::from(&settings.rules.path));
            let ruleset = match kontragent::rules::load_file::<Ruleset>(&rules) {
                Ok(rs) => rs,
                Err(errors) => {
                    for e in &errors {
                        eprintln!("{}: {e}", rules.display());
                    }
                    std::process::exit(1);
                }
            };
            let cases = cases.unwrap_or_else(|| {
                rules
                    .parent()
                    .unwrap_or(std::path::Path::new("."))
                    .join("tests")
            });
            let profile = &settings.rules.default_profile;
            let outcomes = if cases.is_dir() {
                golden::run_dir(&ruleset, &cases, profile)
            } else {
                golden::run_file(&ruleset, &cases, profile)
            }
            .map_err(|e| anyhow::anyhow!(e))?;
            report_cases(&outcomes, ruleset.rules.iter().map(|r| r.id.as_str()));
        }
        RulesCommand::Facts { json, markdown } => {
            let definitions = facts::definitions();
            if markdown {
                print!("{}", facts::definitions_markdown());
            } else if json {
                println!("{}", serde_json::to_string_pretty(&definitions)?);
            } else {
                for f in definitions {
                    let unit = if f.unit.is_empty() {
                        String::new()
                    } else {
                        format!(", {}", f.unit)
                    };
                    println!(
                        "{} ({}{unit}; from {}) — {} e.g. {}",
                        f.name, f.kind, f.source, f.description, f.example
                    );
                }
            }
        }
    }
    Ok(())
}

/// Prints each case, the rules no case fires, and the count; exits 1 when one failed.
fn report_cases<'a>(outcomes: &[golden::CaseOutcome], rule_ids: impl IntoIterator<Item = &'a str>) {
    let failed = outcomes.iter().filter(|o| !o.passed()).count();
    for o in outcomes {
        if o.passed() {
            println!("ok    {} — {}", o.file, o.name);
        } else {
            println!("FAIL  {} — {}", o.file, o.name);
            for p in &o.problems {
                println!("        {p}");
            }
        }
    }
    let uncovered = golden::uncovered(rule_ids, outcomes);
    if !uncovered.is_empty() {
        println!(
            "no case fires {} rule(s) — add a golden case for each: {}",
            uncovered.len(),
            uncovered.join(", ")
        );
    }
    println!(
        "{} cases: {} passed, {failed} failed",
        outcomes.len(),
        outcomes.len() - failed
    );
    if failed > 0 {
        std::process::exit(1);
    }
}

/// A report as the API's JSON (`--json`) or as text for the terminal.
fn show<T: serde::Serialize>(
    json: bool,
    report: &T,
    text: impl FnOnce(&T) -> String,
) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        print!("{}", text(report));
    }
    Ok(())
}

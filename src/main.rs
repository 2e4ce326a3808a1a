//! The `kontragent` binary: parses the command line, sets up logging, and hands over
//! to the library. No logic lives here.

use anyhow::Context;
use clap::{Parser, Subcommand};
use kontragent::check::CheckRequest;
use kontragent::config::Settings;
use kontragent::domain::Inn;
use kontragent::startup::{self, Application};
use kontragent::{api, telemetry};
use std::net::TcpListener;
use std::path::PathBuf;

#[path = "cli/rules.rs"]
mod rules_cli;
use rules_cli::RulesCommand;

#[derive(Parser)]
#[command(
    name = "kontragent",
    version,
    about = "Counterparty due diligence: INN in, approve / review / reject out"
)]
struct Cli {
    /// TOML config file (also KONTRAGENT_CONFIG); env KONTRAGENT__SECTION__KEY overrides it.
    #[arg(long, global = true, env = "KONTRAGENT_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP API (default 127.0.0.1:8080; Swagger UI at /docs).
    Serve {
        /// Point every source at the local sandbox (started in-process unless one already runs).
        #[arg(long)]
        sandbox: bool,
    },
    /// Check one INN and print the verdict. Exits 0 for approve, 2 for review, 3 for reject
    /// (1 when the check could not be made), so a script can branch on it.
    Check {
        inn: String,
        /// Print the Check as JSON.
        #[arg(long)]
        json: bool,
        /// Use the local sandbox instead of the real registries.
        #[arg(long)]
        sandbox: bool,
        /// Reuse answers no older than this many seconds (0 = fetch fresh).
        #[arg(long)]
        max_age_s: Option<u64>,
        /// Scoring profile.
        #[arg(long)]
        profile: Option<String>,
    },
    /// Check every INN of a spreadsheet (.xlsx, or .csv as Excel writes it) and write one row
    /// per input row to OUTPUT (.xlsx, .csv or .json). Shows progress; Ctrl-C stops and
    /// writes what is done (exit 130); the same command again resumes, reusing checks newer
    /// than --max-age-s. Bad rows (invalid INN, duplicate, an INN Excel turned into a
    /// number) are reported in the output, never fatal. On Ctrl-C the checks under way finish
    /// and no more start.
    Batch {
        input: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// The INN column: a header, a letter (B) or a number (2); default: the column
        /// headed «ИНН» or `inn`.
        #[arg(long)]
        column: Option<String>,
        /// Reuse checks and registry answers no older than this many seconds.
        #[arg(long, default_value_t = 86_400)]
        max_age_s: u64,
        /// Scoring profile.
        #[arg(long)]
        profile: Option<String>,
        /// Use the local sandbox instead of the real registries.
        #[arg(long)]
        sandbox: bool,
        /// Run the checks on this server (`https://dd.example.ru`) instead of in-process.
        #[arg(long)]
        server: Option<String>,
        /// The server's API key (scope `checks`); also KONTRAGENT_API_KEY.
        #[arg(long, env = "KONTRAGENT_API_KEY", hide_env_values = true)]
        api_key: Option<String>,
    },
    /// Run the fake registries (egrul, pb) with the scenario INNs.
    Sandbox {
        /// Port (default sandbox.port, 8090).
        #[arg(long)]
        port: Option<u16>,
    },
    /// Create the database and apply migrations, then exit.
    Migrate,
    /// Print the OpenAPI document.
    Openapi,
    /// Work with the ruleset.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Manage API keys (stored hashed in the database).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Ask every enabled registry about `sources.probe_inn` as a check would: which ones
    /// this machine's egress (or proxy) reaches, how fast, and why the others fail. Exits 2
    /// when an enabled registry is not reachable.
    Doctor {
        /// Ask the local sandbox instead of the real registries.
        #[arg(long)]
        sandbox: bool,
        /// Print the report as JSON (the same as `GET /v1/sources/health`).
        #[arg(long)]
        json: bool,
    },
    /// Webhook settings kept by the service.
    Webhooks {
        #[command(subcommand)]
        command: WebhooksCommand,
    },
    /// The key that seals the stored secrets (webhook and callback secrets, CRM tokens).
    Secrets {
        #[command(subcommand)]
        command: SecretsCommand,
    },
    /// The report links the service hands out (signed, expiring after `links.ttl_s`).
    Links {
        #[command(subcommand)]
        command: LinksCommand,
    },
}

#[derive(Subcommand)]
enum LinksCommand {
    /// Make a new link key: every report link handed out so far stops opening (within a
    /// minute on running instances). The API with a key keeps working.
    Rotate,
}

#[derive(Subcommand)]
enum SecretsCommand {
    /// Make a new key and reseal every stored secret with it, in one transaction. Stop the
    /// other instances first (they hold the old key).
    Rotate,
}

#[derive(Subcommand)]
enum WebhooksCommand {
    /// Print the `whsec_` secret check callbacks are signed with (generated and stored at
    /// first start unless `webhooks.callback_secret` is set).
    CallbackSecret,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a key; the key itself is printed once, alone on the last line.
    Create {
        #[arg(long)]
        name: String,
        /// Comma-separated: checks, catalog:read, catalog:write, rules:admin,
        /// monitoring:admin, webhooks:admin, applications, metrics, public, admin.
        #[arg(long)]
        scopes: String,
    },
    /// List keys (never the keys themselves).
    List,
    /// Revoke a key by id or name (every instance stops accepting it within seconds).
    Revoke { id_or_name: String },
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut settings = Settings::load(cli.config.as_deref())?;
    telemetry::init(&settings.log);
    match cli.command {
        Command::Serve { sandbox } => {
            if sandbox {
                settings.use_sandbox();
                start_sandbox_if_free(&settings)?;
            }
            let app = Application::build(settings.clone()).await?;
            reload_on_sighup(
                std::sync::Arc::clone(app.policy()),
                std::sync::Arc::clone(app.monitor().policy()),
            );
            tracing::info!(
                "listening on http://{}:{} (Swagger UI at /docs)",
                settings.server.host,
                app.port()
            );
            app.run_until_stopped().await?;
        }
        Command::Check {
            inn,
            json,
            sandbox,
            max_age_s,
            profile,
        } => {
            let inn = Inn::parse(&inn).map_err(|e| anyhow::anyhow!("{e} ({})", e.code()))?;
            if sandbox {
                settings.use_sandbox();
                start_sandbox_if_free(&settings)?;
            }
            let service = startup::build_services(&settings).await?.checks;
            let check = service
                .run(CheckRequest {
                    inn,
                    max_age_s,
                    profile,
                    requested_by: "cli".into(),
                })
                .await?
                .check;
            if json {
                println!("{}", serde_json::to_string_pretty(&check)?);
            } else {
                print!(
                    "{}",
                    kontragent::human::verdict_text(
                        &check,
                        settings.check.default_language,
                        settings.display.tz()
                    )
                );
            }
            let code = match check.decision {
                Some(kontragent::domain::Decision::Approve) => 0,
                Some(kontragent::domain::Decision::Review) => 2,
                Some(kontragent::domain::Decision::Reject) => 3,
                None => 1,
            };
            if code != 0 {
                std::io::Write::flush(&mut std::io::stdout())?;
                std::process::exit(code);
            }
        }
        Command::Batch {
            input,
            out,
            column,
            max_age_s,
            profile,
            sandbox,
            server,
            api_key,
        } => {
            use kontragent::batch;
            let job = batch::Job {
                input,
                output: out,
                column,
                max_age_s,
                profile,
                language: settings.check.default_language,
                zone: settings.display.tz(),
            };
            let runner: Box<dyn batch::Runner> = match server {
                Some(server) => Box::new(batch::Remote {
                    client: reqwest::Client::new(),
                    server,
                    api_key,
                    language: job.language,
                }),
                None => {
                    if sandbox {
                        settings.use_sandbox();
                        start_sandbox_if_free(&settings)?;
                    }
                    Box::new(batch::InProcess {
                        batches: startup::build_services(&settings).await?.batches,
                        link_base: settings.integrations.public_url.clone(),
                    })
                }
            };
            let mut progress: Box<dyn batch::Progress> =
                if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                    Box::new(batch::Bar::new())
                } else {
                    Box::new(batch::Lines::new())
                };
            let stop = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            let summary = batch::run(&job, runner.as_ref(), progress.as_mut(), stop)
                .await
                .map_err(anyhow::Error::msg)?;
            println!("{}", summary.line(&job.output, job.language));
            if summary.interrupted > 0 {
                eprintln!("{}", summary.stopped_line(job.language));
                std::io::Write::flush(&mut std::io::stdout())?;
                std::process::exit(130);
            }
        }
        Command::Doctor { sandbox, json } => {
            if sandbox {
                settings.use_sandbox();
                start_sandbox_if_free(&settings)?;
            }
            let sources = kontragent::sources::build_sources(&settings.sources)?;
            let doctor = kontragent::sources::doctor::Doctor::new(&sources, &settings.sources)
                .map_err(|e| anyhow::anyhow!(e))?;
            let health = doctor.examine().await;
            if json {
                println!("{}", serde_json::to_string_pretty(&health)?);
            } else {
                print!("{}", render_health(&health));
            }
            let unreachable = health
                .sources
                .iter()
                .any(|s| s.status == kontragent::sources::SourceStatus::Unavailable);
            if unreachable {
                std::process::exit(2);
            }
        }
        Command::Sandbox { port } => {
            let port = port.unwrap_or(settings.sandbox.port);
            let address = format!("{}:{port}", settings.sandbox.host);
            let listener = TcpListener::bind(&address)
                .with_context(|| format!("cannot listen on {address}"))?;
            tracing::info!("sandbox registries on http://{address} (scenario list at /)");
            sandbox_server(listener)?.await?;
        }
        Command::Migrate => {
            kontragent::startup::open_store(&settings).await?;
            println!(
                "database ready: {}",
                kontragent::storage::redacted_url(&settings.database.url)
            );
        }
        Command::Webhooks {
            command: WebhooksCommand::CallbackSecret,
        } => {
            let store = kontragent::startup::open_store(&settings).await?;
            let webhooks = kontragent::webhooks::WebhookService::start(
                &settings.webhooks,
                store,
                std::sync::Arc::new(kontragent::outbound::SystemResolver),
            )
            .await
            .map_err(|e| anyhow::anyhow!(e))?;
            println!("{}", webhooks.callback_secret());
        }
        Command::Links {
            command: LinksCommand::Rotate,
        } => {
            let store = kontragent::startup::open_store(&settings).await?;
            kontragent::check::links::rotate(store.as_ref()).await?;
            store
                .record_audit(&kontragent::domain::access::AuditEntry::new(
                    "cli",
                    "links.rotate",
                    None,
                    Some("every report link handed out so far is revoked".into()),
                ))
                .await?;
            println!(
                "new link key stored: the report links handed out so far no longer open \
                 (running instances read the key again within a minute)"
            );
        }
        Command::Secrets {
            command: SecretsCommand::Rotate,
        } => {
            println!(
                "{}",
                kontragent::startup::rotate_secrets_key(&settings).await?
            );
        }
        Command::Keys { command } => {
            let store = kontragent::storage::connect(&settings.database.url, 1).await?;
            let keys = kontragent::auth::KeyService::new(store, &settings.auth);
            match command {
                KeysCommand::Create { name, scopes } => {
                    let (key, secret) = keys.create(&name, &scopes).await?;
                    println!(
                        "created key {} `{}` with scopes {}; it is shown only now:",
                        key.id,
                        key.name,
                        kontragent::auth::scope_list(&key.scopes)
                    );
                    println!("{secret}");
                }
                KeysCommand::List => {
                    let at = |t: Option<chrono::DateTime<chrono::Utc>>| {
                        t.map_or_else(
                            || "-".to_owned(),
                            |t| t.format("%Y-%m-%d %H:%M").to_string(),
                        )
                    };
                    println!(
                        "{:<36}  {:<20}  {:<30}  {:<16}  {:<16}  revoked",
                        "id", "name", "scopes", "created", "last used"
                    );
                    for k in keys.list().await? {
                        println!(
                            "{:<36}  {:<20}  {:<30}  {:<16}  {:<16}  {}",
                            k.id,
                            k.name,
                            kontragent::auth::scope_list(&k.scopes),
                            at(Some(k.created_at)),
                            at(k.last_used_at),
                            at(k.revoked_at)
                        );
                    }
                }
                KeysCommand::Revoke { id_or_name } => {
                    let key = keys.revoke(&id_or_name).await?;
                    println!("revoked key {} `{}`", key.id, key.name);
                }
            }
        }
        Command::Openapi => print!("{}", api::openapi_json()),
        Command::Rules { command } => rules_cli::run(command, &settings).await?,
    }
    Ok(())
}

/// `kill -HUP` reloads the ruleset (a bad file is refused; the active one stays).
fn reload_on_sighup(
    policy: std::sync::Arc<kontragent::policy::Policy>,
    monitoring: std::sync::Arc<
        kontragent::rules::Reloadable<kontragent::monitoring::rules::MonitoringPolicy>,
    >,
) {
    tokio::spawn(async move {
        let Ok(mut hangups) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            tracing::warn!("cannot listen for SIGHUP");
            return;
        };
        while hangups.recv().await.is_some() {
            if let Err(e) = monitoring.reload("SIGHUP", None).await {
                tracing::error!(error = ?e, "monitoring policy not reloaded");
            }
            match policy.active().reload("SIGHUP", None).await {
                Ok(outcome) => {
                    tracing::info!(version = %outcome.version, changed = outcome.changed, "SIGHUP reload")
                }
                Err(kontragent::policy::PolicyError::Invalid(errors)) => {
                    for e in errors {
                        tracing::error!("ruleset refused: {e}");
                    }
                }
                Err(e) => tracing::error!(error = ?e, "SIGHUP reload failed"),
            }
        }
    });
}

/// The fake registries' server (the cargo feature `sandbox`, on by default).
#[cfg(feature = "sandbox")]
fn sandbox_server(listener: TcpListener) -> anyhow::Result<actix_web::dev::Server> {
    Ok(kontragent::sandbox::serve(listener)?)
}

/// Built without the sandbox: `--sandbox` can still use one running elsewhere.
#[cfg(not(feature = "sandbox"))]
fn sandbox_server(_: TcpListener) -> anyhow::Result<actix_web::dev::Server> {
    anyhow::bail!("this binary was built without the sandbox (cargo feature `sandbox`)")
}

/// Starts the sandbox in this process unless something already listens on its port
/// (e.g. a `kontragent sandbox` in another terminal).
fn start_sandbox_if_free(settings: &Settings) -> anyhow::Result<()> {
    let address = format!("{}:{}", settings.sandbox.host, settings.sandbox.port);
    match TcpListener::bind(&address) {
        Ok(listener) => {
            tokio::spawn(sandbox_server(listener)?);
            tracing::info!("sandbox registries started on http://{address}");
        }
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            tracing::info!("using the sandbox already running on http://{address}");
        }
        Err(e) => return Err(e).with_context(|| format!("cannot listen on {address}")),
    }
    Ok(())
}

/// A verdict for people: the decision, the company, every reason, every source.
/// The doctor's report as a table: one line per registry.
fn render_health(health: &kontragent::sources::doctor::SourcesHealth) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Registries asked about INN {} ({} of {} reachable):",
        health.probe_inn,
        health.reachable,
        health.sources.len()
    );
    for s in &health.sources {
        let _ = writeln!(
            out,
            "  {:<10} {:<12} {:<18} {:>6} ms{}",
            s.source,
            s.status.as_str(),
            s.detail.as_deref().unwrap_or(""),
            s.latency_ms,
            if s.proxy { "  via proxy" } else { "" }
        );
    }
    out
}

//! `kontragent batch INPUT --out OUTPUT`: a list of INNs from a spreadsheet checked in
//! batches of up to a hundred — in this process or on a running server, through the same
//! batch resource — with progress, a clean stop on Ctrl-C, and a journal beside the output
//! so a second run resumes: an INN already checked within `--max-age` is not asked again.

pub mod input;
pub mod output;

use crate::check::batch::{Batch, BatchRequest, BatchService, INTERRUPTED, ItemError, MAX_BATCH};
use crate::domain::{Decision, Language};
use output::ResultRow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// Where batches run: this process, or a server's API.
#[async_trait::async_trait]
pub trait Runner: Send + Sync {
    async fn start(
        &self,
        inns: Vec<String>,
        max_age_s: u64,
        profile: Option<String>,
    ) -> Result<Uuid, String>;
    async fn get(&self, id: Uuid) -> Result<Batch, String>;
    /// Asks a batch to stop starting checks; true when the ones under way will still end
    /// in it (worth waiting for), false when the caller should just stop waiting.
    async fn cancel(&self, id: Uuid) -> bool;
    /// How often to ask for progress.
    fn poll(&self) -> Duration;
    /// What the report links start with.
    fn link_base(&self) -> &str;
}

/// Batches in this process, against the configured registries (or the sandbox).
pub struct InProcess {
    pub batches: Arc<BatchService>,
    pub link_base: String,
}

#[async_trait::async_trait]
impl Runner for InProcess {
    async fn start(
        &self,
        inns: Vec<String>,
        max_age_s: u64,
        profile: Option<String>,
    ) -> Result<Uuid, String> {
        let request = BatchRequest {
            inns,
            max_age_s: Some(max_age_s),
            profile,
            callback_url: None,
            requested_by: "cli".into(),
        };
        let (id, _running) = self
            .batches
            .start(request)
            .await
            .map_err(|e| e.to_string())?;
        Ok(id)
    }

    async fn get(&self, id: Uuid) -> Result<Batch, String> {
        self.batches
            .get(id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("batch {id} is gone"))
    }

    async fn cancel(&self, id: Uuid) -> bool {
        self.batches.cancel(id);
        true
    }

    fn poll(&self) -> Duration {
        Duration::from_millis(200)
    }

    fn link_base(&self) -> &str {
        &self.link_base
    }
}

/// Batches on a running server (`--server URL --api-key KEY`).
pub struct Remote {
    pub client: reqwest::Client,
    pub server: String,
    pub api_key: Option<String>,
    pub language: Language,
}

impl Remote {
    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self
            .client
            .request(
                method,
                format!("{}{path}", self.server.trim_end_matches('/')),
            )
            .header("Accept-Language", self.language.as_str());
        match &self.api_key {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    }

    async fn batch(response: reqwest::Response) -> Result<Batch, String> {
        let status = response.status();
        let body = response.text().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("the server answered {status}: {body}"));
        }
        serde_json::from_str(&body).map_err(|e| format!("the server's batch: {e}"))
    }
}

#[async_trait::async_trait]
impl Runner for Remote {
    async fn start(
        &self,
        inns: Vec<String>,
        max_age_s: u64,
        profile: Option<String>,
    ) -> Result<Uuid, String> {
        let body = serde_json::json!({"inns": inns, "max_age_s": max_age_s, "profile": profile, "wait_ms": 0});
        let response = self
            .request(reqwest::Method::POST, "/v1/checks/batch")
            .json(&body)
            .send()
            .await
            .map_err(|e| format!("{}: {e}", self.server))?;
        Ok(Self::batch(response).await?.id)
    }

    async fn get(&self, id: Uuid) -> Result<Batch, String> {
        let response = self
            .request(reqwest::Method::GET, &format!("/v1/batches/{id}"))
            .send()
            .await
            .map_err(|e| format!("{}: {e}", self.server))?;
        Self::batch(response).await
    }

    /// The server goes on with the batch (its checks are kept for the next run).
    async fn cancel(&self, _: Uuid) -> bool {
        false
    }

    fn poll(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn link_base(&self) -> &str {
        self.server.trim_end_matches('/')
    }
}

/// What a run is asked to do.
pub struct Job {
    pub input: PathBuf,
    pub output: PathBuf,
    pub column: Option<String>,
    /// Reuse checks (and registry answers) no older than this.
    pub max_age_s: u64,
    pub profile: Option<String>,
    pub language: Language,
    pub zone: chrono_tz::Tz,
}

/// How a run ended.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Summary {
    pub rows: usize,
    pub approve: usize,
    pub review: usize,
    pub reject: usize,
    /// Rows refused (invalid INN, duplicate) or whose check failed.
    pub errors: usize,
    /// Rows taken from the journal of an earlier run.
    pub resumed: usize,
    /// Rows left unchecked by a stop.
    pub interrupted: usize,
}

impl Summary {
    /// The closing line: where the results are and what they hold.
    pub fn line(&self, output: &Path, language: Language) -> String {
        let path = output.display();
        match language {
            Language::Ru => format!(
                "{path}: строк {} — одобрить {}, на проверку {}, отклонить {}, ошибки {} ({} из прошлого запуска)",
                self.rows, self.approve, self.review, self.reject, self.errors, self.resumed
            ),
            Language::En => format!(
                "{path}: {} rows — approve {}, review {}, reject {}, errors {} ({} from an earlier run)",
                self.rows, self.approve, self.review, self.reject, self.errors, self.resumed
            ),
        }
    }

    /// What to say when a stop left rows unchecked.
    pub fn stopped_line(&self, language: Language) -> String {
        match language {
            Language::Ru => format!(
                "остановлено: не проверено строк: {}; запустите ту же команду ещё раз, чтобы продолжить",
                self.interrupted
            ),
            Language::En => format!(
                "stopped: {} rows not checked yet; run the same command again to go on",
                self.interrupted
            ),
        }
    }

    fn count(&mut self, row: &ResultRow) {
        match row.check.as_ref().and_then(|c| c.decision) {
            Some(Decision::Approve) => self.approve += 1,
            Some(Decision::Review) => self.review += 1,
            Some(Decision::Reject) => self.reject += 1,
            None => self.errors += 1,
        }
    }

    pub fn done(&self) -> usize {
        self.approve + self.review + self.reject + self.errors
    }
}

/// Tells the person at the terminal how far the run is.
pub trait Progress: Send {
    fn start(&mut self, total: usize, already: usize);
    fn advance(&mut self, summary: &Summary);
    fn finish(&mut self, summary: &Summary);
}

/// The journal of finished rows beside the output: `.<output name>.journal.jsonl`.
pub fn journal_path(output: &Path) -> PathBuf {
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    output.with_file_name(format!(".{name}.journal.jsonl"))
}

/// Runs the job to the end or until `stop` resolves, then writes the output with every
/// input row: checked, refused, or (after a stop) `interrupted`, counted in the summary.
pub async fn run(
    job: &Job,
    runner: &dyn Runner,
    progress: &mut dyn Progress,
    stop: impl std::future::Future<Output = ()>,
) -> Result<Summary, String> {
    let input::Input {
        header: input_header,
        rows,
    } = input::read(&job.input, job.column.as_deref()).map_err(|e| e.to_string())?;
    let journal = journal_path(&job.output);
    let earlier = output::read_journal(&journal);
    let fresh_since = crate::check::cutoff(chrono::Utc::now(), job.max_age_s);
    let mut summary = Summary {
        rows: rows.len(),
        ..Summary::default()
    };
    let mut results: Vec<Option<ResultRow>> = vec![None; rows.len()];
    let mut todo: Vec<(usize, String)> = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        match &row.inn {
            Err(error) => {
                results[i] = Some(ResultRow {
                    line: row.line,
                    inn: row.raw.clone(),
                    check: None,
                    error: Some(error.clone()),
                    input: row.cells.clone(),
                })
            }
            Ok(inn) => match earlier.get(inn.as_str()) {
                Some(done)
                    if done
                        .check
                        .as_ref()
                        .and_then(|c| c.checked_at)
                        .is_some_and(|at| at >= fresh_since) =>
                {
                    summary.resumed += 1;
                    results[i] = Some(ResultRow {
                        line: row.line,
                        inn: row.raw.clone(),
                        input: row.cells.clone(),
                        ..done.clone()
                    });
                }
                _ => todo.push((i, inn.to_string())),
            },
        }
    }
    for row in results.iter().flatten() {
        summary.count(row);
    }
    progress.start(rows.len(), summary.done());
    tokio::pin!(stop);
    // After a stop: the checks under way end and are kept, nothing new starts.
    let mut stopping = false;
    'chunks: for chunk in todo.chunks(MAX_BATCH) {
        if stopping {
            break;
        }
        let inns = chunk.iter().map(|(_, inn)| inn.clone()).collect();
        let id = runner
            .start(inns, job.max_age_s, job.profile.clone())
            .await?;
        let mut recorded = vec![false; chunk.len()];
        loop {
            let batch = runner.get(id).await?;
            for (k, item) in batch.items.iter().enumerate() {
                let finished = item.error.is_some()
                    || item
                        .check
                        .as_ref()
                        .is_some_and(|c| c.state != crate::check::CheckState::Pending);
                if recorded.get(k) != Some(&false) || !finished {
                    continue;
                }
                recorded[k] = true;
                if item.error.as_ref().is_some_and(|e| e.code == INTERRUPTED) {
                    continue;
                }
                let (i, _) = chunk[k];
                let row = ResultRow {
                    line: rows[i].line,
                    inn: rows[i].raw.clone(),
                    input: rows[i].cells.clone(),
                    check: item.check.clone(),
                    error: item.error.clone().or_else(|| {
                        item.check
                            .as_ref()
                            .and_then(|c| c.error.clone())
                            .map(|detail| ItemError {
                                code: "check_failed".into(),
                                detail,
                            })
                    }),
                };
                if row.check.is_some() {
                    output::append_journal(&journal, &row)?;
                }
                summary.count(&row);
                results[i] = Some(row);
                progress.advance(&summary);
            }
            if batch.state == "done" {
                break;
            }
            if stopping {
                tokio::time::sleep(runner.poll()).await;
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(runner.poll()) => {}
                _ = &mut stop => {
                    stopping = true;
                    if !runner.cancel(id).await {
                        break 'chunks;
                    }
                }
            }
        }
    }
    let rows_out: Vec<ResultRow> = results
        .into_iter()
        .zip(&rows)
        .map(|(result, row)| {
            result.unwrap_or_else(|| {
                summary.interrupted += 1;
                ResultRow {
                    line: row.line,
                    inn: row.raw.clone(),
                    input: row.cells.clone(),
                    check: None,
                    error: Some(ItemError {
                        code: INTERRUPTED.into(),
                        detail: "stopped before this row was checked; run the same command again to go on".into(),
                    }),
                }
            })
        })
        .collect();
    output::write(
        &job.output,
        &rows_out,
        &output::Layout {
            language: job.language,
            zone: job.zone,
            link_base: runner.link_base(),
            input_header: &input_header,
        },
    )?;
    progress.finish(&summary);
    Ok(summary)
}

/// Progress as a bar with an ETA on a terminal.
pub struct Bar(indicatif::ProgressBar);

impl Bar {
    pub fn new() -> Bar {
        Bar(indicatif::ProgressBar::hidden())
    }
}

impl Default for Bar {
    fn default() -> Self {
        Bar::new()
    }
}

fn tally(s: &Summary) -> String {
    format!(
        "одобрить {}, на проверку {}, отклонить {}, ошибки {}",
        s.approve, s.review, s.reject, s.errors
    )
}

impl Progress for Bar {
    fn start(&mut self, total: usize, already: usize) {
        let bar = indicatif::ProgressBar::new(total as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40.cyan/blue} {pos}/{len} ({percent}%) осталось ~{eta} {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.set_position(already as u64);
        self.0 = bar;
    }

    fn advance(&mut self, summary: &Summary) {
        self.0.set_position(summary.done() as u64);
        self.0.set_message(tally(summary));
    }

    fn finish(&mut self, summary: &Summary) {
        self.0.set_position(summary.done() as u64);
        self.0.finish_with_message(tally(summary));
    }
}

/// A progress line on stderr; a closed stderr (a pipe that went away) is not worth a panic.
fn say(line: std::fmt::Arguments) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Progress as plain lines (a log, a pipe): at most one a second, and the last.
pub struct Lines {
    started: std::time::Instant,
    last: Option<std::time::Instant>,
    total: usize,
    already: usize,
}

impl Lines {
    pub fn new() -> Lines {
        Lines {
            started: std::time::Instant::now(),
            last: None,
            total: 0,
            already: 0,
        }
    }

    fn line(&self, summary: &Summary) -> String {
        let done = summary.done();
        let rate = (done - self.already.min(done)) as f64 / self.started.elapsed().as_secs_f64();
        let eta = if rate > 0.0 {
            format!(
                ", осталось ~{} с",
                ((self.total - done) as f64 / rate).ceil()
            )
        } else {
            String::new()
        };
        format!("batch: {done}/{} ({}){eta}", self.total, tally(summary))
    }
}

impl Default for Lines {
    fn default() -> Self {
        Lines::new()
    }
}

impl Progress for Lines {
    fn start(&mut self, total: usize, already: usize) {
        self.total = total;
        self.already = already;
        // «Готово» counts the rows the input already settles (a wrong INN, a repeat) and
        // those an earlier run checked.
        say(format_args!(
            "batch: строк {total}, уже готово {already} (ошибки во входном файле и проверки прошлого запуска)"
        ));
    }

    fn advance(&mut self, summary: &Summary) {
        if self
            .last
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(1))
        {
            self.last = Some(std::time::Instant::now());
            say(format_args!("{}", self.line(summary)));
        }
    }

    fn finish(&mut self, summary: &Summary) {
        say(format_args!("{}", self.line(summary)));
    }
}

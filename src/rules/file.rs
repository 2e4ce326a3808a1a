//! A policy file in force: the scoring ruleset and the monitoring policy are both a
//! [`RuleFile`] held by one [`Reloadable`] — loaded at start (a bad file stops start-up),
//! every version stored, reloaded by file watch, SIGHUP or the API, a bad file refused
//! while the last good one stays. The new version is swapped in whole (`arc-swap`): a
//! check in flight keeps the version it started with.

use crate::rules::{Position, RuleError};
use crate::storage::{Store, StoreError, StoredRuleset};
use arc_swap::ArcSwap;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// A policy file's compiled form.
pub trait RuleFile: Send + Sync + Sized + 'static {
    /// What the file is, for logs (`scoring ruleset`, `monitoring policy`).
    const KIND: &'static str;
    /// Its versions' `kind` in storage (`scoring`, `monitoring`).
    const STORED_KIND: &'static str;
    /// The setting that names the file, for a message when it is missing.
    const SETTING: &'static str;

    /// Compiles the file's text, reporting every problem with its rule and line.
    fn parse(text: &str) -> Result<Self, Vec<RuleError>>;
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("the policy file is invalid")]
    Invalid(Vec<RuleError>),
    #[error("storage failed")]
    Store(#[from] StoreError),
    #[error("the replay failed: {0}")]
    Replay(String),
    #[error("no stored version {0}")]
    UnknownVersion(String),
    /// As much rules work as there are cores is running, and this request's turn did not
    /// come within its deadline.
    #[error("too many validations and dry-runs are running")]
    Busy,
}

/// What a reload did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"version": "3a59f4cdaf8aee003911fe9a776bcb5e0fdf396fb77cf0fa143b17aeb8349929", "changed": true}))]
pub struct ReloadOutcome {
    /// The version now active.
    pub version: String,
    /// False when the file had not changed.
    pub changed: bool,
}

/// Reads and compiles a policy file (the CLI and the golden cases; the server reloads
/// through [`Reloadable`]).
pub fn load_file<T: RuleFile>(path: &Path) -> Result<T, Vec<RuleError>> {
    let text = std::fs::read_to_string(path).map_err(|e| vec![unreadable::<T>(path, e)])?;
    T::parse(&text)
}

/// The TOML of a policy file, bounded in size first; a syntax or shape error names its
/// line and, inside a `[[rules]]` entry, that rule's id.
pub fn parse_toml<R: serde::de::DeserializeOwned>(text: &str) -> Result<R, Vec<RuleError>> {
    crate::rules::bounds::check_file_size(text)?;
    toml::from_str(text).map_err(|e| {
        let at = e.span().map(|s| s.start);
        let position = at.map(|offset| position_of(text, offset));
        vec![RuleError {
            too_costly: false,
            rule_id: at.and_then(|offset| rule_id_at(text, offset)),
            line: position.map(|p| p.line),
            column: position.and_then(|p| p.column),
            message: e.message().to_owned(),
        }]
    })
}

/// The 1-based line of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    position_of(text, offset).line
}

/// The 1-based line and column (in characters) of a byte offset.
pub fn position_of(text: &str, offset: usize) -> Position {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Position {
        line: before.matches('\n').count() + 1,
        column: Some(before[line_start..].chars().count() + 1),
    }
}

/// Where one `[[rules]]` entry is in its file, to place a problem on the key it is about.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The line of the entry's `[[rules]]` header.
    pub line: usize,
    /// Byte offsets of the entry's text, header to the next table.
    start: usize,
    end: usize,
}

impl Entry {
    /// Where `key = …` is in the entry; the header's line when the key is absent.
    pub fn key(&self, text: &str, key: &str) -> Position {
        self.find_key(text, key)
            .map_or(self.line.into(), |(at, _)| position_of(text, at))
    }

    /// Where the character `offset` of `key`'s string value is (a condition's mistake).
    /// Exact for a value without escapes; an escape moves the column by its length.
    pub fn in_value(&self, text: &str, key: &str, offset: usize) -> Position {
        let Some((_, value)) = self.find_key(text, key) else {
            return self.line.into();
        };
        let rest = &text[value..];
        let quote = ["'''", "\"\"\"", "'", "\""]
            .into_iter()
            .find(|q| rest.starts_with(q))
            .unwrap_or("");
        let mut start = value + quote.len();
        if quote.len() == 3 && text[start..].starts_with('\n') {
            start += 1;
        }
        let at = text[start..]
            .char_indices()
            .nth(offset)
            .map_or(text.len(), |(i, _)| start + i);
        position_of(text, at)
    }

    /// The byte offsets of `key` and of its value's first character, in this entry.
    fn find_key(&self, text: &str, key: &str) -> Option<(usize, usize)> {
        let entry = text.get(self.start..self.end)?;
        let mut line_start = self.start;
        for line in entry.split_inclusive('\n') {
            let indent = line.len() - line.trim_start().len();
            let after_key = line.trim_start().strip_prefix(key);
            if let Some(after) = after_key.map(str::trim_start)
                && let Some(value) = after.strip_prefix('=')
            {
                let value_at = line.len() - value.trim_start().len();
                return Some((line_start + indent, line_start + value_at));
            }
            line_start += line.len();
        }
        None
    }
}

/// The id of the `[[rules]]` entry that contains `offset`: the nearest `[[rules]]` header
/// before it, and the `id = "…"` line of that entry (so a wrong value inside a rule, such as
/// an unknown effect, is reported with the rule's id).
fn rule_id_at(text: &str, offset: usize) -> Option<String> {
    let before = &text[..offset.min(text.len())];
    let header = before.rfind("[[rules]]")?;
    if before[header..]
        .lines()
        .skip(1)
        .any(|l| l.trim_start().starts_with('['))
    {
        return None; // another table started after the last rule header
    }
    let entry = &text[header + "[[rules]]".len()..];
    let entry = entry.find("\n[").map_or(entry, |end| &entry[..end]);
    entry.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        (key.trim() == "id").then(|| value.trim().trim_matches('"').to_owned())
    })
}

/// Reads each `[[rules]]` entry on its own, so that one entry's shape error (an unknown
/// effect, a misspelt key) does not hide the others': an entry that cannot be read is a
/// problem with its rule id and line, and every other entry is still read and checked.
pub fn each_rule<R: serde::de::DeserializeOwned>(
    text: &str,
    entries: Vec<toml::Spanned<toml::Value>>,
    problems: &mut Problems,
) -> Vec<(Entry, R)> {
    entries
        .into_iter()
        .filter_map(|spanned| {
            let span = spanned.span();
            let line = line_of(text, span.start);
            // The span is the `[[rules]]` header; the entry runs to the next table.
            let end = text[span.end..]
                .find("\n[")
                .map_or(text.len(), |i| span.end + i + 1);
            let entry = Entry {
                line,
                start: span.start,
                end,
            };
            let value = spanned.into_inner();
            let id = value
                .get("id")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned();
            match value.try_into::<R>() {
                Ok(rule) => Some((entry, rule)),
                Err(e) => {
                    // Read the entry's own text again to find the line of the offending key.
                    #[derive(serde::Deserialize)]
                    struct One<R> {
                        #[expect(dead_code, reason = "only its error's position is used")]
                        rules: Vec<R>,
                    }
                    let at = text
                        .get(span.start..end)
                        .and_then(|entry| toml::from_str::<One<R>>(entry).err())
                        .and_then(|e| e.span())
                        .map_or(line.into(), |s| position_of(text, span.start + s.start));
                    problems.in_rule(&id, at, e.message().to_owned());
                    None
                }
            }
        })
        .collect()
}

/// The problems found in a policy file, each with its rule and line.
#[derive(Default)]
pub struct Problems(pub Vec<RuleError>);

impl Problems {
    /// A problem in the rule `id` at `at` (a line, or a [`Position`]).
    pub fn in_rule(&mut self, id: &str, at: impl Into<Position>, message: impl Into<String>) {
        self.0.push(RuleError::in_rule(id, at.into(), message));
    }

    pub fn push(&mut self, problem: RuleError) {
        self.0.push(problem);
    }

    /// `Ok(value)` when nothing was found wrong; otherwise every problem, in file order.
    pub fn or<T>(mut self, value: T) -> Result<T, Vec<RuleError>> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            self.0.sort_by_key(|e| e.line.unwrap_or(0));
            Err(self.0)
        }
    }
}

/// The version of a policy file: the SHA-256 of its text.
pub fn version_of(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The last content of the file that a reload refused, while an older version stays
/// in force: an analyst sees why an edit did not take.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"version": "9b1c…", "at": "2026-12-01T10:00:00Z",
    "errors": [{"rule_id": "typo", "line": 12, "message": "condition: unknown fact `company.statsu`"}]}))]
pub struct Refusal {
    /// The refused content's version (SHA-256).
    pub version: String,
    pub at: chrono::DateTime<chrono::Utc>,
    pub errors: Vec<RuleError>,
}

/// A check the service adds to a file's own (the ruleset must have the default profile).
pub type Requirement<T> = Box<dyn Fn(&T) -> Result<(), Vec<RuleError>> + Send + Sync>;

/// A policy file in force, with its stored versions and its reload.
pub struct Reloadable<T: RuleFile> {
    current: ArcSwap<T>,
    info: ArcSwap<StoredRuleset>,
    refused: arc_swap::ArcSwapOption<Refusal>,
    /// A rollback the file could not take: the version of the file it overrides. While the
    /// file keeps that version, the rolled-back version stays in force.
    pinned_over: std::sync::Mutex<Option<String>>,
    path: PathBuf,
    store: Arc<dyn Store>,
    requirement: Requirement<T>,
    /// One reload at a time, so versions are stored and swapped in order.
    reloading: tokio::sync::Mutex<()>,
}

/// What a rollback did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"kind": "scoring", "version": "3a59f4cd…", "previous": "9b1c07…", "path": "rules/default.toml", "file_written": true}))]
pub struct RollbackOutcome {
    /// `scoring` or `monitoring`.
    pub kind: String,
    /// The version now in force.
    pub version: String,
    /// The version it replaced.
    pub previous: String,
    pub path: String,
    /// True when the file now holds the version's text (written atomically); false when the
    /// file could not be written (read-only) and the version is pinned in the database
    /// instead, until the file is edited.
    pub file_written: bool,
}

impl<T: RuleFile> Reloadable<T> {
    /// Loads the file (a bad one stops start-up) and records its version. A rollback pinned
    /// over this very file content stays in force.
    pub async fn start(
        path: PathBuf,
        store: Arc<dyn Store>,
        requirement: Requirement<T>,
    ) -> Result<Arc<Reloadable<T>>, PolicyError> {
        let text = read::<T>(&path).await?;
        let file_version = version_of(&text);
        let last = store.activations(T::STORED_KIND).await?.into_iter().next();
        let pin = last
            .clone()
            .filter(|a| a.pinned_over.as_deref() == Some(file_version.as_str()));
        let pinned = match pin {
            Some(pin) => stored_version::<T>(&store, &pin.version).await?,
            None => None,
        };
        let (info, compiled, pinned_over) = match pinned {
            Some(info) => {
                let compiled = compile(&info.content, &requirement).await?;
                (info, compiled, Some(file_version))
            }
            None => {
                let compiled = compile(&text, &requirement).await?;
                let info = record::<T>(&store, &path, text, "startup", None).await?;
                (info, compiled, None)
            }
        };
        // A start with the version already in force (every CLI command starts too) is no
        // activation: the list shows when the version in force changed.
        let unchanged =
            last.is_some_and(|a| a.version == info.version && a.pinned_over == pinned_over);
        if !unchanged {
            activated::<T>(&store, &info, &path, "startup", None, pinned_over.clone()).await?;
        }
        Ok(Arc::new(Reloadable {
            current: ArcSwap::from_pointee(compiled),
            info: ArcSwap::from_pointee(info),
            refused: arc_swap::ArcSwapOption::empty(),
            pinned_over: std::sync::Mutex::new(pinned_over),
            path,
            store,
            requirement,
            reloading: tokio::sync::Mutex::new(()),
        }))
    }

    /// The version every new check uses.
    pub fn current(&self) -> Arc<T> {
        self.current.load_full()
    }

    /// The active version's record.
    pub fn info(&self) -> Arc<StoredRuleset> {
        self.info.load_full()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The last refused content, when the file on disk is not the version in force.
    pub fn refused(&self) -> Option<Arc<Refusal>> {
        self.refused.load_full()
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Every version of this policy file loaded so far, newest first.
    pub async fn versions(&self) -> Result<Vec<StoredRuleset>, StoreError> {
        self.store.list_rulesets(T::STORED_KIND).await
    }

    /// Reads the file again; a valid, changed file becomes active for every new check.
    /// An invalid one is refused and the active version stays.
    pub async fn reload(
        &self,
        author: &str,
        comment: Option<String>,
    ) -> Result<ReloadOutcome, PolicyError> {
        let _one_at_a_time = self.reloading.lock().await;
        let text = read::<T>(&self.path).await?;
        let current = self.info().version.clone();
        let pinned_over = self.pinned_over.lock().expect("pin lock").clone();
        if version_of(&text) == current || pinned_over == Some(version_of(&text)) {
            self.refused.store(None);
            return Ok(ReloadOutcome {
                version: current,
                changed: false,
            });
        }
        let compiled = match compile(&text, &self.requirement).await {
            Ok(compiled) => compiled,
            Err(PolicyError::Invalid(errors)) => {
                self.refused.store(Some(Arc::new(Refusal {
                    version: version_of(&text),
                    at: chrono::Utc::now(),
                    errors: errors.clone(),
                })));
                return Err(PolicyError::Invalid(errors));
            }
            Err(other) => return Err(other),
        };
        let info = record::<T>(&self.store, &self.path, text, author, comment.clone()).await?;
        activated::<T>(&self.store, &info, &self.path, author, comment, None).await?;
        let version = info.version.clone();
        self.current.store(Arc::new(compiled));
        self.info.store(Arc::new(info));
        self.refused.store(None);
        *self.pinned_over.lock().expect("pin lock") = None;
        tracing::info!(%version, author, kind = T::KIND, "policy file reloaded");
        Ok(ReloadOutcome {
            version,
            changed: true,
        })
    }

    /// Makes an earlier stored version the one in force: its text is written to the file
    /// atomically (a temporary file renamed over it), so the file, the watch and a restart
    /// all agree. When the file cannot be written (read-only), the version is pinned in the
    /// database over the file's current content until the file is edited.
    pub async fn rollback(
        &self,
        version: &str,
        author: &str,
        comment: Option<String>,
    ) -> Result<RollbackOutcome, PolicyError> {
        let _one_at_a_time = self.reloading.lock().await;
        let info = stored_version::<T>(&self.store, version)
            .await?
            .ok_or_else(|| PolicyError::UnknownVersion(version.to_owned()))?;
        let compiled = compile(&info.content, &self.requirement).await?;
        let previous = self.info().version.clone();
        let on_disk = tokio::fs::read_to_string(&self.path)
            .await
            .map(|text| version_of(&text))
            .unwrap_or_default();
        let written = if on_disk == version {
            Ok(())
        } else {
            write_atomically(&self.path, &info.content).await
        };
        let pinned_over = match &written {
            Ok(()) => None,
            Err(e) => {
                tracing::warn!(file = %self.path.display(), error = %e, kind = T::KIND,
                    "the rollback cannot write the policy file; the version is pinned in the database");
                Some(on_disk)
            }
        };
        activated::<T>(
            &self.store,
            &info,
            &self.path,
            author,
            comment,
            pinned_over.clone(),
        )
        .await?;
        self.current.store(Arc::new(compiled));
        self.info.store(Arc::new(info));
        self.refused.store(None);
        *self.pinned_over.lock().expect("pin lock") = pinned_over;
        tracing::info!(version, author, kind = T::KIND, "policy file rolled back");
        Ok(RollbackOutcome {
            kind: T::STORED_KIND.to_owned(),
            version: version.to_owned(),
            previous,
            path: self.path.display().to_string(),
            file_written: written.is_ok(),
        })
    }

    /// Whether a stored version of this file is `version`.
    pub async fn has_version(&self, version: &str) -> Result<bool, StoreError> {
        Ok(self.versions().await?.iter().any(|v| v.version == version))
    }

    /// Watches the file: when its content changes, reloads it.
    pub fn spawn_watch(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let this = Arc::clone(self);
        watch_file(self.path.clone(), every, move || {
            let this = Arc::clone(&this);
            async move { this.reload("file-watch", None).await.map(|o| o.changed) }
        })
    }
}

async fn read<T: RuleFile>(path: &Path) -> Result<String, PolicyError> {
    tokio::fs::read_to_string(path)
        .await
        .map_err(|e| PolicyError::Invalid(vec![unreadable::<T>(path, e)]))
}

/// A policy file that cannot be read; a missing relative path says where it was looked for
/// and which setting names it (the CLI run outside the repository).
fn unreadable<T: RuleFile>(path: &Path, e: std::io::Error) -> RuleError {
    let hint = if e.kind() == std::io::ErrorKind::NotFound && path.is_relative() {
        let here = std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_default();
        let env = format!(
            "KONTRAGENT__{}",
            T::SETTING.replace('.', "__").to_uppercase()
        );
        format!(
            " (looked in {here}): set `{}` (or {env}) to your {} file, or run from the directory that holds `{}`",
            T::SETTING,
            T::KIND,
            path.display()
        )
    } else {
        String::new()
    };
    RuleError::general(format!("cannot read {}: {e}{hint}", path.display()))
}

/// Compiles off the async workers, then applies the service's own requirement.
async fn compile<T: RuleFile>(text: &str, requirement: &Requirement<T>) -> Result<T, PolicyError> {
    let owned = text.to_owned();
    let compiled = compile_off_thread(move || T::parse(&owned))
        .await
        .map_err(PolicyError::Invalid)?;
    requirement(&compiled).map_err(PolicyError::Invalid)?;
    Ok(compiled)
}

/// The stored version `version` of this kind of file.
async fn stored_version<T: RuleFile>(
    store: &Arc<dyn Store>,
    version: &str,
) -> Result<Option<StoredRuleset>, StoreError> {
    Ok(store
        .list_rulesets(T::STORED_KIND)
        .await?
        .into_iter()
        .find(|v| v.version == version))
}

/// Records that `info` became the version in force.
async fn activated<T: RuleFile>(
    store: &Arc<dyn Store>,
    info: &StoredRuleset,
    path: &Path,
    author: &str,
    comment: Option<String>,
    pinned_over: Option<String>,
) -> Result<(), StoreError> {
    store
        .record_activation(&crate::storage::PolicyActivation {
            kind: T::STORED_KIND.to_owned(),
            version: info.version.clone(),
            path: path.display().to_string(),
            activated_at: chrono::Utc::now(),
            author: author.to_owned(),
            comment,
            pinned_over,
        })
        .await
}

/// Replaces the file's content whole: a temporary file beside it, renamed over it, so a
/// reader (the watch, another instance) never sees half a file.
async fn write_atomically(path: &Path, content: &str) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = path.with_file_name(format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple()));
    if let Err(e) = tokio::fs::write(&temporary, content).await {
        let _ = tokio::fs::remove_file(&temporary).await;
        return Err(e);
    }
    tokio::fs::rename(&temporary, path).await.inspect_err(|_| {
        let _ = std::fs::remove_file(&temporary);
    })
}

/// Stores a version (a version already stored keeps its first record) and returns it.
async fn record<T: RuleFile>(
    store: &Arc<dyn Store>,
    path: &Path,
    text: String,
    author: &str,
    comment: Option<String>,
) -> Result<StoredRuleset, PolicyError> {
    let info = StoredRuleset {
        kind: T::STORED_KIND.to_owned(),
        version: version_of(&text),
        content: text,
        path: path.display().to_string(),
        loaded_at: chrono::Utc::now(),
        author: author.to_owned(),
        comment,
    };
    store.save_ruleset(&info).await?;
    Ok(info)
}

/// Polls a policy file every `every`; when its content differs from the last content seen,
/// runs `reload`. A refused file is reported once per distinct content and otherwise
/// ignored, so a half-saved file never stops the service.
fn watch_file<F, Fut>(path: PathBuf, every: Duration, reload: F) -> tokio::task::JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = Result<bool, PolicyError>> + Send,
{
    tokio::spawn(async move {
        let mut seen: Option<String> = None;
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Ok(text) = tokio::fs::read_to_string(&path).await else {
                continue;
            };
            let version = version_of(&text);
            if seen.as_ref() == Some(&version) {
                continue;
            }
            match reload().await {
                Ok(_) => seen = Some(version),
                Err(PolicyError::Invalid(errors)) => {
                    let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
                    tracing::error!(file = %path.display(), errors = ?list, "changed policy file refused; the previous one stays active");
                    seen = Some(version);
                }
                Err(e) => tracing::error!(error = ?e, "policy reload failed"),
            }
        }
    })
}

/// Stack of the thread that compiles untrusted rule text: the TOML and CEL parsers
/// recurse, and the bounds of [`crate::rules::bounds`] keep them far below this.
const COMPILER_STACK_BYTES: usize = 64 * 1024 * 1024;

/// At most this many compilations at once, so a burst of requests cannot start
/// a thread each.
static COMPILER_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// Runs `compile` (parsing rule text that came from outside) on its own thread with an
/// ample stack, off the async workers, and waits for it without blocking them.
pub async fn compile_off_thread<T>(
    compile: impl FnOnce() -> Result<T, Vec<RuleError>> + Send + 'static,
) -> Result<T, Vec<RuleError>>
where
    T: Send + 'static,
{
    let failed = |message: &str| vec![RuleError::general(message.to_owned())];
    let _slot = COMPILER_SLOTS
        .acquire()
        .await
        .map_err(|_| failed("the rule compiler is shut down"))?;
    let (send, receive) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("rule-compiler".into())
        .stack_size(COMPILER_STACK_BYTES)
        .spawn(move || {
            let _ = send.send(compile());
        })
        .map_err(|_| failed("cannot start the rule compiler"))?;
    receive
        .await
        .unwrap_or_else(|_| Err(failed("the rule compiler failed")))
}

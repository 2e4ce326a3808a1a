//! Secrets sealed at rest. Webhook and callback secrets, CRM tokens and the responses kept for
//! `Idempotency-Key` replays are stored as `sealed:v1:<key id>:<base64 nonce‖ciphertext>`,
//! encrypted with ChaCha20-Poly1305 under the service's key, with the column they belong to as
//! associated data (a value copied into another column does not open). The key comes from
//! `secrets.key` (`KONTRAGENT__SECRETS__KEY`) or a key file created at first start with mode
//! 0600; a missing or wrong key stops the start, never a plaintext fallback.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use sha2::Digest;
use std::path::{Path, PathBuf};

const PREFIX: &str = "sealed:v1:";

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("no secrets key is loaded")]
    NoKey,
    #[error("a sealed value of {0} does not open with this key (another key, or it was altered)")]
    WrongKey(String),
    #[error("a sealed value of {0} is corrupt")]
    Corrupt(String),
}

/// Why the key could not be had at start.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "secrets.key: 32 bytes in base64 or 64 hex digits (make one: `head -c32 /dev/urandom | base64`)"
    )]
    Malformed,
    #[error("the secrets key file {0}: {1}")]
    File(String, #[source] std::io::Error),
    #[error("the secrets key file {0} holds no key (32 bytes in base64 or 64 hex digits)")]
    FileMalformed(String),
}

/// The service's key: seals and opens stored secrets.
pub struct Sealer {
    key: Option<(String, ChaCha20Poly1305)>,
}

impl Sealer {
    pub fn new(key: &[u8; 32]) -> Sealer {
        Sealer {
            key: Some((key_id(key), ChaCha20Poly1305::new(&Key::from(*key)))),
        }
    }

    /// No key: a store opened this way (the CLI's key commands, tools) refuses every secret.
    pub fn unavailable() -> Sealer {
        Sealer { key: None }
    }

    /// The key's id (the first 8 hex digits of its SHA-256), as it appears in sealed values.
    pub fn key_id(&self) -> Option<&str> {
        self.key.as_ref().map(|(id, _)| id.as_str())
    }

    /// `plain` sealed for `column` (`table.column`).
    pub fn seal(&self, column: &str, plain: &str) -> Result<String, SealError> {
        let (id, cipher) = self.key.as_ref().ok_or(SealError::NoKey)?;
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(|_| SealError::Corrupt(column.to_owned()))?;
        let sealed = cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plain.as_bytes(),
                    aad: column.as_bytes(),
                },
            )
            .map_err(|_| SealError::Corrupt(column.to_owned()))?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{id}:{}", STANDARD.encode(bytes)))
    }

    /// The plain text of a stored value. A value stored before sealing began (no prefix) is
    /// read as it is; every start seals such values (`Store::seal_plaintext`).
    pub fn open(&self, column: &str, stored: &str) -> Result<String, SealError> {
        let Some(rest) = stored.strip_prefix(PREFIX) else {
            return Ok(stored.to_owned());
        };
        let (_, cipher) = self.key.as_ref().ok_or(SealError::NoKey)?;
        let corrupt = || SealError::Corrupt(column.to_owned());
        let (_id, b64) = rest.split_once(':').ok_or_else(corrupt)?;
        let bytes = STANDARD.decode(b64).map_err(|_| corrupt())?;
        if bytes.len() < 12 {
            return Err(corrupt());
        }
        let (nonce, sealed) = bytes.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| corrupt())?;
        let plain = cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: sealed,
                    aad: column.as_bytes(),
                },
            )
            .map_err(|_| SealError::WrongKey(column.to_owned()))?;
        String::from_utf8(plain).map_err(|_| corrupt())
    }

    pub fn seal_opt(&self, column: &str, plain: Option<&str>) -> Result<Option<String>, SealError> {
        plain.map(|p| self.seal(column, p)).transpose()
    }

    pub fn open_opt(
        &self,
        column: &str,
        stored: Option<&str>,
    ) -> Result<Option<String>, SealError> {
        stored.map(|s| self.open(column, s)).transpose()
    }
}

/// Whether a stored value is sealed.
pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(PREFIX)
}

fn key_id(key: &[u8; 32]) -> String {
    hex::encode(&sha2::Sha256::digest(key)[..4])
}

/// A key as written in config or in the key file: base64 (standard, padded or not) or hex.
pub fn parse_key(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(text).ok()?
    } else {
        base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(text.trim_end_matches('='))
            .ok()?
    };
    bytes.try_into().ok()
}

/// A fresh random key, in the form the key file and `secrets.key` take.
pub fn generate_key() -> String {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).expect("the system's random source");
    STANDARD.encode(key)
}

/// Where the key comes from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// `secrets.key` / `KONTRAGENT__SECRETS__KEY`.
    Config,
    /// The key file; `created` when this start made it.
    File { path: PathBuf, created: bool },
}

/// The key of this deployment: `secrets.key` when set, else the key file, created (mode
/// 0600) when there is none yet. A rotation cut short between the database and the file
/// left the new key in `<file>.next`: the caller tries it when the key does not open.
pub fn load_key(configured: &str, key_file: &Path) -> Result<([u8; 32], KeySource), KeyError> {
    if !configured.trim().is_empty() {
        return Ok((
            parse_key(configured).ok_or(KeyError::Malformed)?,
            KeySource::Config,
        ));
    }
    let shown = key_file.display().to_string();
    match std::fs::read_to_string(key_file) {
        Ok(text) => {
            let key = parse_key(&text).ok_or_else(|| KeyError::FileMalformed(shown.clone()))?;
            Ok((
                key,
                KeySource::File {
                    path: key_file.to_owned(),
                    created: false,
                },
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let text = generate_key();
            match create_key_file(key_file, &text) {
                Ok(()) => {}
                // Another process made it first: use theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    return load_key(configured, key_file);
                }
                Err(e) => return Err(KeyError::File(shown, e)),
            }
            tracing::warn!(file = %shown, "created the secrets key file: back it up with the database");
            let key = parse_key(&text).ok_or(KeyError::FileMalformed(shown))?;
            Ok((
                key,
                KeySource::File {
                    path: key_file.to_owned(),
                    created: true,
                },
            ))
        }
        Err(e) => Err(KeyError::File(shown, e)),
    }
}

/// Writes a key file readable by its owner only: a new file, or (`overwrite`) in place.
pub fn write_key_file(path: &Path, key: &str, overwrite: bool) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if overwrite {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(format!("{key}\n").as_bytes())?;
    file.sync_all()
}

/// Creates the key file whole or not at all: written to a temporary file first, then linked
/// into place, which fails when another process made it first (`AlreadyExists`).
fn create_key_file(path: &Path, key: &str) -> std::io::Result<()> {
    let mut name = path.as_os_str().to_owned();
    // Unique per call: two threads of one process must not write into one file.
    name.push(format!(".tmp-{}", uuid::Uuid::new_v4().simple()));
    let temporary = PathBuf::from(name);
    write_key_file(&temporary, key, true)?;
    let linked = std::fs::hard_link(&temporary, path);
    let _ = std::fs::remove_file(&temporary);
    linked
}

/// Where a rotation keeps the new key until the database is resealed with it.
pub fn next_file(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".next");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_with_its_key_and_column_only() {
        let sealer = Sealer::new(&[7; 32]);
        let sealed = sealer.seal("webhooks.secret", "whsec_abc").unwrap();
        assert!(is_sealed(&sealed));
        assert!(!sealed.contains("whsec_abc"));
        assert_eq!(
            sealer.open("webhooks.secret", &sealed).unwrap(),
            "whsec_abc"
        );
        assert!(matches!(
            sealer.open("service_secrets.value", &sealed),
            Err(SealError::WrongKey(_))
        ));
        assert!(matches!(
            Sealer::new(&[8; 32]).open("webhooks.secret", &sealed),
            Err(SealError::WrongKey(_))
        ));
        assert!(matches!(
            Sealer::unavailable().seal("webhooks.secret", "x"),
            Err(SealError::NoKey)
        ));
        // Two seals of one value differ (a fresh nonce each).
        assert_ne!(sealed, sealer.seal("webhooks.secret", "whsec_abc").unwrap());
        // A value from before sealing reads as it is.
        assert_eq!(sealer.open("webhooks.secret", "plain").unwrap(), "plain");
    }

    #[test]
    fn keys_are_read_in_base64_or_hex() {
        let key = generate_key();
        assert!(parse_key(&key).is_some());
        assert_eq!(parse_key(&"ab".repeat(32)), Some([0xab; 32]));
        assert_eq!(parse_key("short"), None);
        assert_eq!(parse_key(""), None);
    }

    #[test]
    fn the_key_file_is_created_once_with_mode_0600() {
        let dir = std::env::temp_dir().join(format!("kt-seal-{}", uuid::Uuid::new_v4()));
        let file = dir.join("secrets.key");
        let (first, source) = load_key("", &file).unwrap();
        assert!(matches!(source, KeySource::File { created: true, .. }));
        let (again, source) = load_key("", &file).unwrap();
        assert!(matches!(source, KeySource::File { created: false, .. }));
        assert_eq!(first, again);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&file, "nonsense").unwrap();
        assert!(matches!(
            load_key("", &file),
            Err(KeyError::FileMalformed(_))
        ));
        assert!(matches!(
            load_key("nonsense", &file),
            Err(KeyError::Malformed)
        ));
        std::fs::remove_dir_all(dir).unwrap();
    }
}

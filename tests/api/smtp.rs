//! A small SMTP server on 127.0.0.1 for the tests: it speaks just enough of RFC 5321
//! (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) and keeps every message it is given.

use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One received message: the envelope recipients and the raw data.
#[derive(Debug, Clone)]
pub struct Received {
    pub to: Vec<String>,
    pub data: String,
}

pub struct SmtpServer {
    pub port: u16,
    pub messages: Arc<Mutex<Vec<Received>>>,
}

impl SmtpServer {
    pub async fn start() -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let messages: Arc<Mutex<Vec<Received>>> = Arc::default();
        let kept = Arc::clone(&messages);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let kept = Arc::clone(&kept);
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut lines = BufReader::new(read).lines();
                    let _ = write.write_all(b"220 test ESMTP\r\n").await;
                    let mut to = Vec::new();
                    while let Ok(Some(line)) = lines.next_line().await {
                        let upper = line.to_ascii_uppercase();
                        let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO")
                        {
                            b"250 test\r\n"
                        } else if upper.starts_with("RCPT TO:") {
                            to.push(line[8..].trim().trim_matches(['<', '>']).to_owned());
                            b"250 ok\r\n"
                        } else if upper.starts_with("DATA") {
                            let _ = write.write_all(b"354 go on\r\n").await;
                            let mut data = String::new();
                            while let Ok(Some(l)) = lines.next_line().await {
                                if l == "." {
                                    break;
                                }
                                data.push_str(&l);
                                data.push('\n');
                            }
                            kept.lock().unwrap().push(Received {
                                to: std::mem::take(&mut to),
                                data,
                            });
                            b"250 queued\r\n"
                        } else if upper.starts_with("QUIT") {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            return;
                        } else {
                            b"250 ok\r\n"
                        };
                        let _ = write.write_all(reply).await;
                    }
                });
            }
        });
        SmtpServer { port, messages }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Waits up to 10 s for `n` messages.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..500 {
            if self.messages.lock().unwrap().len() >= n {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        self.messages.lock().unwrap().clone()
    }
}

impl Received {
    /// The decoded `Subject` (RFC 2047 encoded words, base64 or Q).
    pub fn subject(&self) -> String {
        let raw: String = self
            .data
            .lines()
            .skip_while(|l| !l.to_ascii_lowercase().starts_with("subject:"))
            .enumerate()
            .take_while(|(i, l)| *i == 0 || l.starts_with(' ') || l.starts_with('\t'))
            .map(|(_, l)| l.trim_start_matches("Subject:").trim().to_owned())
            .collect::<Vec<_>>()
            .join(" ");
        // Whitespace between two encoded words is dropped (RFC 2047 §6.2), kept elsewhere.
        let mut out = String::new();
        let mut last_encoded = None;
        for word in raw.split_whitespace() {
            let encoded = word.starts_with("=?") && word.ends_with("?=");
            if last_encoded.is_some() && !(encoded && last_encoded == Some(true)) {
                out.push(' ');
            }
            out.push_str(&decode_word(word));
            last_encoded = Some(encoded);
        }
        out
    }

    /// The decoded body of the part with this content type (`text/plain`, `text/html`).
    pub fn part(&self, content_type: &str) -> Option<String> {
        let lines: Vec<&str> = self.data.lines().collect();
        let start = lines.iter().position(|l| {
            l.to_ascii_lowercase()
                .starts_with(&format!("content-type: {content_type}"))
        })?;
        let mut encoding = String::new();
        let mut i = start;
        while i < lines.len() && !lines[i].is_empty() {
            if let Some(v) = lines[i]
                .to_ascii_lowercase()
                .strip_prefix("content-transfer-encoding:")
            {
                encoding = v.trim().to_owned();
            }
            i += 1;
        }
        let body: Vec<&str> = lines[i + 1..]
            .iter()
            .take_while(|l| !l.starts_with("--"))
            .copied()
            .collect();
        Some(match encoding.as_str() {
            "base64" => {
                use base64::Engine;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(body.concat())
                    .ok()?;
                String::from_utf8(bytes).ok()?
            }
            "quoted-printable" => quoted_printable(&body.join("\n")),
            _ => body.join("\n"),
        })
    }
}

fn decode_word(word: &str) -> String {
    use base64::Engine;
    let Some(inner) = word.strip_prefix("=?").and_then(|w| w.strip_suffix("?=")) else {
        return word.to_owned();
    };
    let mut parts = inner.splitn(3, '?');
    let (_, encoding, text) = (parts.next(), parts.next(), parts.next().unwrap_or_default());
    match encoding.map(|e| e.to_ascii_lowercase()).as_deref() {
        Some("b") => base64::engine::general_purpose::STANDARD
            .decode(text)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_default(),
        Some("q") => quoted_printable(&text.replace('_', " ")),
        _ => word.to_owned(),
    }
}

fn quoted_printable(text: &str) -> String {
    let text = text.replace("=\n", "");
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&text[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#![allow(dead_code)]

//! A real SMTP server for the mail tests: `tests/smtp/server.py` (aiosmtpd)
//! on a free port of 127.0.0.1, storing what it accepts in a Maildir that
//! the tests read back and parse as MIME with mail-parser.
//!
//! What the server says on standard error (aiosmtpd's warnings about a
//! login without TLS, the traceback of a TLS handshake a test makes fail
//! on purpose) goes to a log beside the Maildir, and is printed only when
//! the test fails, so a passing run reads clean.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// SMTP settings for a test server on 127.0.0.1, no TLS, no login.
pub fn local_smtp(port: u16) -> panelkeeper::mail::settings::SmtpInput {
    use panelkeeper::mail::settings::{PasswordChange, SmtpInput, TlsMode};
    SmtpInput {
        host: "127.0.0.1".into(),
        port,
        tls: TlsMode::None,
        user: None,
        password: PasswordChange::Clear,
        from_address: "research@panel.example.com".into(),
        from_name: "Panel Research".into(),
        reply_to: None,
        ca_certificate: None,
    }
}

/// A free TCP port on 127.0.0.1 (nothing listens on it when returned).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct SmtpServer {
    child: Child,
    pub port: u16,
    pub maildir: PathBuf,
    log: PathBuf,
}

/// One delivered message, as the server stored it.
pub struct Delivered {
    pub raw: Vec<u8>,
}

impl Delivered {
    pub fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default()
            .parse(&self.raw)
            .expect("delivered message parses as MIME")
    }

    pub fn message_id(&self) -> String {
        self.parsed().message_id().unwrap_or_default().to_string()
    }
}

impl SmtpServer {
    pub fn start(dir: &Path, extra: &[&str]) -> SmtpServer {
        Self::start_on(free_port(), dir, extra)
    }

    pub fn start_on(port: u16, dir: &Path, extra: &[&str]) -> SmtpServer {
        let maildir = dir.join(format!("maildir-{port}"));
        // The workspace root's tests/, from this crate or from e2e/.
        let here = Path::new(env!("CARGO_MANIFEST_DIR"));
        let script = [here, &here.join("..")]
            .iter()
            .map(|d| d.join("tests/smtp/server.py"))
            .find(|p| p.exists())
            .expect("tests/smtp/server.py");
        let log = dir.join(format!("smtp-{port}.log"));
        let mut child = Command::new("/usr/bin/python3")
            .arg(script)
            .args(["--port", &port.to_string(), "--maildir"])
            .arg(&maildir)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("the server's log"))
            .spawn()
            .expect("start /usr/bin/python3 tests/smtp/server.py (scripts/setup installs python3-aiosmtpd)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(
            line.starts_with("ready"),
            "SMTP test server did not start: {line:?}\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        SmtpServer {
            child,
            port,
            maildir,
            log,
        }
    }

    /// Every message accepted so far, oldest first.
    pub fn delivered(&self) -> Vec<Delivered> {
        let mut files: Vec<_> = std::fs::read_dir(self.maildir.join("new"))
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
        files
            .into_iter()
            .map(|p| Delivered {
                raw: std::fs::read(p).unwrap(),
            })
            .collect()
    }

    /// For each message accepted so far, oldest first, the client port of
    /// the connection it came over.
    pub fn peers(&self) -> Vec<String> {
        std::fs::read_to_string(self.maildir.join("peers"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// What the server wrote on standard error so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// How many messages a server started with `--discard` accepted.
    pub fn discarded(&self) -> usize {
        std::fs::read_to_string(self.maildir.join("count"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }

    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "--- the SMTP test server's log ({}):\n{}",
                self.log.display(),
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
    }
}

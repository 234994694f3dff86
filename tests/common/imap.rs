//! A real IMAP server for the inbox tests: Debian's Dovecot, started with a
//! configuration of its own on a free port of 127.0.0.1, one user (`panel`,
//! password `secret`) whose Maildir the tests fill as a mail server
//! delivers: each message written under `tmp/` and renamed into `new/`.
//! Dovecot's log stays beside it, printed only when a test fails.

#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

pub const USER: &str = "panel";
pub const PASSWORD: &str = "secret";

pub struct ImapServer {
    child: Child,
    /// Plain IMAP (offering STARTTLS when the server has a certificate).
    pub port: u16,
    /// IMAP over TLS, when the server has a certificate.
    pub tls_port: Option<u16>,
    dir: PathBuf,
    /// The user's Maildir.
    pub maildir: PathBuf,
}

/// Whether this process runs as root (`/proc/self` belongs to its user).
fn as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

impl ImapServer {
    /// Starts Dovecot in a new folder under `parent`, without TLS.
    pub fn start(parent: &Path) -> ImapServer {
        ImapServer::start_with(parent, None)
    }

    /// Starts Dovecot with TLS under a certificate (`cert`, `key`: PEM
    /// files) for 127.0.0.1: STARTTLS on `port`, TLS on `tls_port`.
    pub fn start_with(parent: &Path, tls: Option<(&Path, &Path)>) -> ImapServer {
        let dir = tempfile::Builder::new()
            .prefix("imap.")
            .tempdir_in(parent)
            .unwrap()
            .keep();
        // Dovecot's own processes must reach every folder above the mail.
        let mut up = Some(dir.as_path());
        while let Some(d) = up {
            if d.starts_with(std::env::temp_dir()) && d != std::env::temp_dir() {
                let mode = std::fs::metadata(d).unwrap().permissions().mode();
                std::fs::set_permissions(d, std::fs::Permissions::from_mode(mode | 0o755)).unwrap();
            }
            up = d.parent();
        }
        let home = dir.join("mail").join(USER);
        let maildir = home.join("Maildir");
        for sub in ["new", "cur", "tmp"] {
            std::fs::create_dir_all(maildir.join(sub)).unwrap();
        }
        let port = super::smtp::free_port();
        let tls_port = tls.map(|_| super::smtp::free_port());
        let (uid, gid) = if as_root() {
            (65534, 65534)
        } else {
            let meta = std::fs::metadata(&dir).unwrap();
            use std::os::unix::fs::MetadataExt;
            (meta.uid(), meta.gid())
        };
        std::fs::write(
            dir.join("users"),
            format!(
                "{USER}:{{PLAIN}}{PASSWORD}:{uid}:{gid}::{}::\n",
                home.display()
            ),
        )
        .unwrap();
        let d = dir.display();
        let ssl = match tls {
            Some((cert, key)) => {
                // Dovecot reads these as its own user.
                for f in [cert, key] {
                    std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o644)).unwrap();
                }
                format!(
                    "ssl = yes\nssl_cert = <{}\nssl_key = <{}\n",
                    cert.display(),
                    key.display()
                )
            }
            None => "ssl = no\n".to_string(),
        };
        let login_user = if as_root() {
            String::new()
        } else {
            // Without root, every process runs as this user.
            let me = std::env::var("USER").unwrap_or_else(|_| "nobody".into());
            format!(
                "default_login_user = {me}\ndefault_internal_user = {me}\n\
                 default_internal_group = {me}\n"
            )
        };
        std::fs::write(
            dir.join("dovecot.conf"),
            format!(
                "protocols = imap\nlisten = 127.0.0.1\nbase_dir = {d}/run\nstate_dir = {d}/state\n\
                 log_path = {d}/dovecot.log\ninfo_log_path = {d}/dovecot.log\n\
                 instance_name = test-{port}\n{ssl}disable_plaintext_auth = no\n\
                 mail_location = maildir:~/Maildir\n{login_user}\
                 passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u {d}/users\n}}\n\
                 userdb {{\n  driver = passwd-file\n  args = username_format=%u {d}/users\n}}\n\
                 service imap-login {{\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {port}\n  }}\n\
                 inet_listener imaps {{\n    address = 127.0.0.1\n    port = {}\n  }}\n}}\n",
                tls_port.unwrap_or(0)
            ),
        )
        .unwrap();
        if as_root() {
            Command::new("chown")
                .args(["-R", "nobody:nogroup"])
                .arg(dir.join("mail"))
                .status()
                .unwrap();
        }
        let child = Command::new("dovecot")
            .args(["-F", "-c"])
            .arg(dir.join("dovecot.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("stderr.log")).unwrap())
            .spawn()
            .expect("dovecot starts (scripts/setup installs dovecot-imapd)");
        let server = ImapServer {
            child,
            port,
            tls_port,
            dir,
            maildir,
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "Dovecot did not start: {}",
                server.log()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        server
    }

    /// Delivers one message, as a mail server does.
    pub fn deliver(&self, raw: &[u8]) {
        static N: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "{}.M{}P{}.test",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
            N.fetch_add(1, Ordering::Relaxed),
            std::process::id()
        );
        let tmp = self.maildir.join("tmp").join(&name);
        std::fs::write(&tmp, raw).unwrap();
        if as_root() {
            Command::new("chown")
                .arg("nobody:nogroup")
                .arg(&tmp)
                .status()
                .unwrap();
        }
        std::fs::rename(&tmp, self.maildir.join("new").join(&name)).unwrap();
    }

    /// The flags of every message in the folder (`Maildir` for the inbox,
    /// `.Name` for a folder), as Dovecot keeps them in file names.
    pub fn flags(&self, folder: &str) -> Vec<String> {
        let base = if folder == "INBOX" {
            self.maildir.clone()
        } else {
            self.maildir.join(format!(".{folder}"))
        };
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            let Ok(entries) = std::fs::read_dir(base.join(sub)) else {
                continue;
            };
            for e in entries {
                let name = e.unwrap().file_name().to_string_lossy().into_owned();
                out.push(
                    name.split_once(":2,")
                        .map(|(_, f)| f.to_string())
                        .unwrap_or_default(),
                );
            }
        }
        out
    }

    pub fn log(&self) -> String {
        let read = |f: &str| std::fs::read_to_string(self.dir.join(f)).unwrap_or_default();
        format!("{}{}", read("dovecot.log"), read("stderr.log"))
    }

    /// Mailbox settings for a server not started (the address matters,
    /// not the server).
    pub fn unstarted_settings() -> panelkeeper::inbox::settings::InboxInput {
        use panelkeeper::mail::settings::{PasswordChange, TlsMode};
        panelkeeper::inbox::settings::InboxInput {
            host: "127.0.0.1".into(),
            port: 9,
            tls: TlsMode::None,
            user: USER.into(),
            password: PasswordChange::Clear,
            folder: None,
            after_reading: None,
            ca_certificate: None,
            address: Some("research@panel.example.com".into()),
            plus_addressing: false,
        }
    }

    /// The panel's mailbox settings for this server.
    pub fn settings(&self) -> panelkeeper::inbox::settings::InboxInput {
        use panelkeeper::mail::settings::{PasswordChange, TlsMode};
        panelkeeper::inbox::settings::InboxInput {
            host: "127.0.0.1".into(),
            port: self.port,
            tls: TlsMode::None,
            user: USER.into(),
            password: PasswordChange::Set(PASSWORD.into()),
            folder: None,
            after_reading: None,
            ca_certificate: None,
            address: Some("research@panel.example.com".into()),
            plus_addressing: true,
        }
    }
}

impl Drop for ImapServer {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- Dovecot's log ---\n{}", self.log());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

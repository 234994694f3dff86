//! The SMTP side: building a stored message into MIME and handing it to
//! the server over one connection, in steps the worker can record.
//!
//! A connection opens its own TCP socket with `TCP_NODELAY` (released
//! lettre 0.11 leaves Nagle's algorithm on, which stalls every message by
//! the server's delayed ACK, about 40 ms) and hands it to lettre's SMTP
//! client; STARTTLS upgrades that socket. Implicit TLS uses lettre's own
//! connector. A message goes in two steps: [`Connection::prepare`] (MAIL,
//! RCPT, DATA: nothing is delivered yet, so any failure here is safe to
//! retry) and [`Connection::transmit`] (the content and the final dot: the
//! moment the server may take it).

use super::settings::{Account, TlsMode};
use lettre::address::Envelope;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment as MimeAttachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};
use tokio::time::timeout;

/// How long to wait for the server to connect or answer one command.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(60);

/// A stored message, ready to be built.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    pub kind: super::MessageKind,
    pub recipient: String,
    pub recipient_name: String,
    pub reply_to: Option<String>,
    pub from_name: Option<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub headers: BTreeMap<String, String>,
    pub message_id: String,
    pub attachments: Vec<super::Attachment>,
}

/// Why a step did not go through, and so what may be done next.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Failure {
    /// The server said not now (4xx), or the connection failed before the
    /// content was sent: try again later.
    Temporary(String),
    /// The server refused it for good (5xx), or it cannot be built.
    Permanent(String),
    /// The connection failed while the content was going out or before the
    /// server answered: the server may have it.
    Uncertain(String),
}

fn describe(e: &lettre::transport::smtp::Error) -> String {
    let reply = std::error::Error::source(e)
        .map(|s| s.to_string())
        .unwrap_or_default();
    match e.status() {
        Some(code) => format!("{code} {reply}").trim().to_string(),
        None if e.is_timeout() => "the server did not answer in time".to_string(),
        None => e.to_string(),
    }
}

fn refused(e: lettre::transport::smtp::Error) -> Failure {
    if e.is_permanent() {
        Failure::Permanent(format!("the server refused it: {}", describe(&e)))
    } else if e.is_transient() {
        Failure::Temporary(format!("the server asked to try later: {}", describe(&e)))
    } else {
        Failure::Temporary(describe(&e))
    }
}

/// Builds the MIME message: text and HTML alternatives, then attachments.
pub(crate) fn build(
    account: &Account,
    m: &Outgoing,
    date: SystemTime,
) -> Result<(Envelope, Vec<u8>), Failure> {
    let bad = |what: &str, e: &dyn std::fmt::Display| Failure::Permanent(format!("{what}: {e}"));
    let from_name = m
        .from_name
        .clone()
        .unwrap_or_else(|| account.settings.from_name.clone());
    let from = Mailbox::new(
        Some(from_name).filter(|n| !n.is_empty()),
        account
            .from
            .as_str()
            .parse()
            .map_err(|e| bad("sender address", &e))?,
    );
    let to = Mailbox::new(
        Some(m.recipient_name.clone()).filter(|n| !n.is_empty()),
        m.recipient
            .parse()
            .map_err(|e| bad("recipient address", &e))?,
    );
    let mut builder = lettre::Message::builder()
        .from(from)
        .to(to)
        .subject(m.subject.clone())
        .message_id(Some(m.message_id.clone()))
        .date(date)
        .user_agent(format!("Panelkeeper {}", env!("CARGO_PKG_VERSION")));
    let reply_to = m
        .reply_to
        .clone()
        .or_else(|| account.settings.reply_to.clone());
    // One address, or two joined by ", " (the owner's and the panel mailbox).
    for r in reply_to.iter().flat_map(|r| r.split(", ")) {
        builder = builder.reply_to(Mailbox::new(
            None,
            r.parse().map_err(|e| bad("reply-to address", &e))?,
        ));
    }
    let mut headers = m.headers.clone();
    if matches!(
        m.kind,
        super::MessageKind::Invitation | super::MessageKind::Reminder
    ) && !headers
        .keys()
        .any(|k| k.eq_ignore_ascii_case("List-Unsubscribe"))
    {
        // Mail to panel members is list mail: their mail program offers an
        // unsubscribe button, and the request reaches the research team.
        let to = account
            .settings
            .reply_to
            .as_deref()
            .unwrap_or(account.from.as_str());
        headers.insert(
            "List-Unsubscribe".into(),
            format!("<mailto:{to}?subject=unsubscribe>"),
        );
    }
    for (name, value) in &headers {
        let name = HeaderName::new_from_ascii(name.clone()).map_err(|e| bad("header name", &e))?;
        builder = builder.raw_header(HeaderValue::new(name, value.clone()));
    }
    let bodies = MultiPart::alternative_plain_html(m.text.clone(), m.html.clone());
    let body = if m.attachments.is_empty() {
        bodies
    } else {
        let mut mixed = MultiPart::mixed().multipart(bodies);
        for a in &m.attachments {
            let kind =
                ContentType::parse(&a.content_type).map_err(|e| bad("attachment type", &e))?;
            let part: SinglePart =
                MimeAttachment::new(a.filename.clone()).body(a.content.clone(), kind);
            mixed = mixed.singlepart(part);
        }
        mixed
    };
    let message = builder
        .multipart(body)
        .map_err(|e| bad("the message", &e))?;
    Ok((message.envelope().clone(), message.formatted()))
}

/// One open SMTP session.
pub(crate) struct Connection {
    inner: AsyncSmtpConnection,
    broken: bool,
}

impl Connection {
    /// Connects, secures and logs in as the settings say. The error is a
    /// sentence for the outbox view ("could not connect to ...: ...").
    pub async fn open(account: &Account) -> Result<Connection, String> {
        let s = &account.settings;
        let target = format!("{}:{}", s.host, s.port);
        let hello = ClientId::default();
        let tls = || {
            let mut builder = TlsParameters::builder(s.host.clone());
            if let Some(pem) = &s.ca_certificate {
                let ca = Certificate::from_pem(pem.as_bytes())
                    .map_err(|e| format!("the CA certificate in the settings: {}", describe(&e)))?;
                builder = builder.add_root_certificate(ca);
            }
            builder
                .build()
                .map_err(|e| format!("TLS for {}: {}", s.host, describe(&e)))
        };
        let mut inner = match s.tls {
            TlsMode::Tls => timeout(
                REPLY_TIMEOUT,
                AsyncSmtpConnection::connect_tokio1(
                    (s.host.as_str(), s.port),
                    Some(REPLY_TIMEOUT),
                    &hello,
                    Some(tls()?),
                    None,
                ),
            )
            .await
            .map_err(|_| format!("could not connect to {target}: no answer in time"))?
            .map_err(|e| format!("could not connect to {target}: {}", describe(&e)))?,
            TlsMode::None | TlsMode::Starttls => {
                let tcp = timeout(REPLY_TIMEOUT, tokio::net::TcpStream::connect(&target))
                    .await
                    .map_err(|_| format!("could not connect to {target}: no answer in time"))?
                    .map_err(|e| format!("could not connect to {target}: {e}"))?;
                tcp.set_nodelay(true)
                    .map_err(|e| format!("could not connect to {target}: {e}"))?;
                let mut inner = timeout(
                    REPLY_TIMEOUT,
                    AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &hello),
                )
                .await
                .map_err(|_| format!("{target} did not greet in time"))?
                .map_err(|e| format!("{target} refused the connection: {}", describe(&e)))?;
                if s.tls == TlsMode::Starttls {
                    if !inner.can_starttls() {
                        return Err(format!(
                            "{target} does not offer STARTTLS; choose another TLS mode only if you trust the network"
                        ));
                    }
                    timeout(REPLY_TIMEOUT, inner.starttls(tls()?, &hello))
                        .await
                        .map_err(|_| format!("STARTTLS with {target}: no answer in time"))?
                        .map_err(|e| format!("STARTTLS with {target} failed: {}", describe(&e)))?;
                }
                inner
            }
        };
        if let (Some(user), Some(password)) = (&s.user, &account.password) {
            let credentials = Credentials::new(user.clone(), password.expose().to_string());
            timeout(
                REPLY_TIMEOUT,
                inner.auth(&[Mechanism::Plain, Mechanism::Login], &credentials),
            )
            .await
            .map_err(|_| format!("logging in to {target}: no answer in time"))?
            .map_err(|e| format!("logging in to {target} as {user} failed: {}", describe(&e)))?;
        } else if s.user.is_some() {
            return Err(
                "a user is set but no password is saved: enter the password in the SMTP settings"
                    .into(),
            );
        }
        Ok(Connection {
            inner,
            broken: false,
        })
    }

    /// MAIL, RCPT and DATA. Nothing is delivered by these, so a failure is
    /// final only when the server refuses for good.
    pub async fn prepare(&mut self, envelope: &Envelope, content: &[u8]) -> Result<(), Failure> {
        let mut options = Vec::new();
        if !content.is_ascii() {
            if !self
                .inner
                .server_info()
                .supports_feature(Extension::EightBitMime)
            {
                return Err(Failure::Permanent(
                    "the message is not 7-bit and the server does not accept 8BITMIME".into(),
                ));
            }
            options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        let non_ascii = envelope
            .from()
            .into_iter()
            .chain(envelope.to())
            .any(|a| !AsRef::<str>::as_ref(a).is_ascii());
        if non_ascii {
            if !self
                .inner
                .server_info()
                .supports_feature(Extension::SmtpUtfEight)
            {
                return Err(Failure::Permanent(
                    "the address is not ASCII and the server does not accept SMTPUTF8".into(),
                ));
            }
            options.push(MailParameter::SmtpUtfEight);
        }
        self.step(Mail::new(envelope.from().cloned(), options))
            .await?;
        for to in envelope.to() {
            self.step(Rcpt::new(to.clone(), vec![])).await?;
        }
        self.step(Data).await
    }

    async fn step(&mut self, command: impl std::fmt::Display) -> Result<(), Failure> {
        match timeout(REPLY_TIMEOUT, self.inner.command(command)).await {
            Err(_) => {
                self.broken = true;
                Err(Failure::Temporary(
                    "the server did not answer in time".into(),
                ))
            }
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) if e.status().is_some() => {
                // Leave the connection ready for the next message.
                let _ = timeout(REPLY_TIMEOUT, self.inner.command("RSET\r\n")).await;
                Err(refused(e))
            }
            Ok(Err(e)) => {
                self.broken = true;
                Err(Failure::Temporary(format!(
                    "the connection failed: {}",
                    describe(&e)
                )))
            }
        }
    }

    /// The content and the final dot; `Ok` once the server has accepted it.
    pub async fn transmit(&mut self, content: &[u8]) -> Result<(), Failure> {
        let result = timeout(REPLY_TIMEOUT, self.inner.message(content)).await;
        if !matches!(result, Ok(Ok(_))) && !matches!(&result, Ok(Err(e)) if e.status().is_some()) {
            self.broken = true;
        }
        match result {
            Err(_) => Err(Failure::Uncertain(
                "the server did not confirm it in time; it may have been delivered".into(),
            )),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) if e.status().is_some() => Err(refused(e)),
            Ok(Err(e)) => Err(Failure::Uncertain(format!(
                "the connection failed while the server was taking it ({}); it may have been delivered",
                describe(&e)
            ))),
        }
    }

    /// Gives the session up without finishing the message under way; the
    /// server drops a transaction whose content never ended.
    pub fn abandon(&mut self) {
        self.broken = true;
    }

    /// Whether the session can carry another message.
    pub fn usable(&self) -> bool {
        !self.broken && !self.inner.has_broken()
    }

    /// Ends the session politely.
    pub async fn close(mut self) {
        let _ = timeout(Duration::from_secs(5), self.inner.quit()).await;
    }
}

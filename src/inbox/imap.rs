//! The panel mailbox over IMAP: connect (plain, STARTTLS or TLS), log in,
//! select the folder, find the messages not yet read into the record,
//! fetch them whole, and mark or move them once they are recorded. Nothing
//! here decides what a message means.

use super::settings::{Account, AfterReading};
use crate::mail::settings::TlsMode;
use crate::{Error, Result};
use async_imap::{Client, Session};
use futures_util::TryStreamExt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// The keyword a read message is flagged with.
pub(crate) const READ_KEYWORD: &str = "$Panelkeeper";
/// How long a connection or a command may take before the server counts as
/// unreachable.
const PATIENCE: Duration = Duration::from_secs(30);

/// A connection to the mail server, plain or under TLS.
#[derive(Debug)]
pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

fn failed(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Mailbox {
        reason: format!("{what}: {e}"),
    }
}

async fn within<T>(what: &str, work: impl Future<Output = Result<T>>) -> Result<T> {
    tokio::time::timeout(PATIENCE, work)
        .await
        .map_err(|_| failed(what, "no answer within 30 seconds"))?
}

/// One folder of the mailbox, selected.
pub(crate) struct Folder {
    session: Session<Stream>,
    pub uid_validity: u32,
    /// Whether the server can be told to wait for new mail (IMAP IDLE).
    pub can_idle: bool,
    after: AfterReading,
}

/// Connects, logs in and selects the folder the settings name.
pub(crate) async fn open(account: &Account) -> Result<Folder> {
    let s = &account.settings;
    let address = format!("{}:{}", s.host, s.port);
    let tcp = within("connecting", async {
        TcpStream::connect((s.host.as_str(), s.port))
            .await
            .map_err(|e| failed(&format!("{address} cannot be reached"), e))
    })
    .await?;
    let tls = || -> Result<tokio_rustls::TlsConnector> {
        Ok(tokio_rustls::TlsConnector::from(Arc::new(
            crate::tls::client(s.ca_certificate.as_deref())?,
        )))
    };
    let name = || {
        rustls_pki_types::ServerName::try_from(s.host.clone())
            .map_err(|e| failed("the host name", e))
    };
    let mut client = match s.tls {
        TlsMode::None => Client::new(Stream::Plain(tcp)),
        TlsMode::Tls => {
            let stream = within("TLS", async {
                tls()?
                    .connect(name()?, tcp)
                    .await
                    .map_err(|e| failed("TLS with the mail server", e))
            })
            .await?;
            Client::new(Stream::Tls(Box::new(stream)))
        }
        TlsMode::Starttls => {
            let mut plain = Client::new(Stream::Plain(tcp));
            within("the greeting", async {
                plain
                    .read_response()
                    .await
                    .map_err(|e| failed("the greeting", e))
            })
            .await?;
            within("STARTTLS", async {
                plain
                    .run_command_and_check_ok("STARTTLS", None)
                    .await
                    .map_err(|e| failed("the server refused STARTTLS", e))
            })
            .await?;
            let Stream::Plain(tcp) = plain.into_inner() else {
                unreachable!("a plain connection before STARTTLS")
            };
            let stream = within("TLS", async {
                tls()?
                    .connect(name()?, tcp)
                    .await
                    .map_err(|e| failed("TLS with the mail server", e))
            })
            .await?;
            // No greeting follows STARTTLS.
            Client::new(Stream::Tls(Box::new(stream)))
        }
    };
    if s.tls != TlsMode::Starttls {
        within("the greeting", async {
            client
                .read_response()
                .await
                .map_err(|e| failed("the greeting", e))
        })
        .await?;
    }
    let password = account
        .password
        .as_ref()
        .map(|p| p.expose().to_string())
        .unwrap_or_default();
    let mut session = within("logging in", async {
        client
            .login(&s.user, &password)
            .await
            .map_err(|(e, _)| failed(&format!("logging in as {}", s.user), e))
    })
    .await?;
    let capabilities = within("asking what the server can do", async {
        session
            .capabilities()
            .await
            .map_err(|e| failed("the server's capabilities", e))
    })
    .await?;
    let selected = within("opening the folder", async {
        session
            .select(&s.folder)
            .await
            .map_err(|e| failed(&format!("opening the folder {:?}", s.folder), e))
    })
    .await?;
    let uid_validity = selected.uid_validity.ok_or_else(|| {
        failed(
            "the folder",
            "the server gives its messages no lasting numbers (UIDVALIDITY)",
        )
    })?;
    if let AfterReading::Move(to) = &account.settings.after_reading {
        // Made once; "already exists" is no error here.
        let _ = session.create(to).await;
    }
    Ok(Folder {
        session,
        uid_validity,
        can_idle: capabilities.has_str("IDLE"),
        after: account.settings.after_reading.clone(),
    })
}

impl Folder {
    /// The messages with a number above `after`, lowest first.
    pub async fn waiting(&mut self, after: u32) -> Result<Vec<u32>> {
        let found = within("looking for new mail", async {
            self.session
                .uid_search(format!("UID {}:*", after.saturating_add(1)))
                .await
                .map_err(|e| failed("looking for new mail", e))
        })
        .await?;
        // `n:*` always names the last message, even one below `n`.
        let mut uids: Vec<u32> = found.into_iter().filter(|u| *u > after).collect();
        uids.sort_unstable();
        Ok(uids)
    }

    /// The messages `uids` whole, as sent (nothing marks them read).
    pub async fn fetch(&mut self, uids: &[u32]) -> Result<Vec<(u32, Vec<u8>)>> {
        let set = uid_set(uids);
        let fetched: Vec<_> = within("reading mail", async {
            self.session
                .uid_fetch(&set, "(UID BODY.PEEK[])")
                .await
                .map_err(|e| failed("reading mail", e))?
                .try_collect()
                .await
                .map_err(|e| failed("reading mail", e))
        })
        .await?;
        let mut out: Vec<(u32, Vec<u8>)> = fetched
            .iter()
            .filter_map(|f| Some((f.uid?, f.body()?.to_vec())))
            .collect();
        out.sort_by_key(|(uid, _)| *uid);
        Ok(out)
    }

    /// Marks the messages `uids` read by the record (seen, flagged with
    /// [`READ_KEYWORD`]) or moves them to the folder the settings name.
    pub async fn done(&mut self, uids: &[u32]) -> Result<()> {
        if uids.is_empty() {
            return Ok(());
        }
        let set = uid_set(uids);
        match self.after.clone() {
            AfterReading::Flag => {
                within("marking mail read", async {
                    self.session
                        .uid_store(&set, format!("+FLAGS (\\Seen {READ_KEYWORD})"))
                        .await
                        .map_err(|e| failed("marking mail read", e))?
                        .try_collect::<Vec<_>>()
                        .await
                        .map_err(|e| failed("marking mail read", e))
                })
                .await?;
            }
            AfterReading::Move(to) => {
                within("moving read mail", async {
                    self.session
                        .uid_mv(&set, &to)
                        .await
                        .map_err(|e| failed(&format!("moving read mail to {to:?}"), e))
                })
                .await?;
            }
        }
        Ok(())
    }

    /// Waits until the server says the folder changed, or `most` passes.
    /// Only where the server offers IDLE.
    pub async fn wait(self, most: Duration) -> Result<Folder> {
        let Folder {
            session,
            uid_validity,
            can_idle,
            after,
        } = self;
        let mut idle = session.idle();
        idle.init()
            .await
            .map_err(|e| failed("waiting for mail", e))?;
        let (waiting, _stop) = idle.wait_with_timeout(most);
        waiting.await.map_err(|e| failed("waiting for mail", e))?;
        let session = within("waiting for mail", async {
            idle.done().await.map_err(|e| failed("waiting for mail", e))
        })
        .await?;
        Ok(Folder {
            session,
            uid_validity,
            can_idle,
            after,
        })
    }

    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.session.logout()).await;
    }
}

/// `1:3,7,9:10` for `[1, 2, 3, 7, 9, 10]` (sorted).
fn uid_set(uids: &[u32]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end + 1 {
            i += 1;
            end = uids[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}:{end}")
        });
        i += 1;
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    #[test]
    fn message_numbers_are_sent_as_ranges() {
        assert_eq!(super::uid_set(&[1, 2, 3, 7, 9, 10]), "1:3,7,9:10");
        assert_eq!(super::uid_set(&[5]), "5");
    }
}

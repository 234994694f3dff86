//! HTTPS for a team server reached over the network: a certificate chain
//! and its key (PEM files) through rustls. Handshakes run beside the
//! accepting loop, each with a time limit, so that one slow or broken
//! client holds up no other.

use crate::{Error, Result};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// How long a client has to finish its TLS handshake.
const HANDSHAKE: Duration = Duration::from_secs(10);

/// The server's TLS set-up from a certificate chain and a private key.
pub fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor> {
    let bad = |path: &Path, what: &str| Error::File {
        path: path.display().to_string(),
        reason: format!("is not a PEM file holding {what}"),
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|_| bad(cert, "a certificate"))?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|_| bad(cert, "a certificate"))?;
    if chain.is_empty() {
        return Err(bad(cert, "a certificate"));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|_| bad(key, "a private key"))?;
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(Arc::new(
        tokio_rustls::rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .and_then(|b| b.with_no_client_auth().with_single_cert(chain, key))
    .map_err(|e| Error::File {
        path: cert.display().to_string(),
        reason: format!("the certificate and key cannot be used together: {e}"),
    })?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Connections whose TLS handshake has finished, for `axum::serve`.
pub struct Listener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl Listener {
    /// Accepts on `tcp`, shaking hands with each client on its own task.
    pub fn new(tcp: TcpListener, acceptor: TlsAcceptor) -> std::io::Result<Listener> {
        let local = tcp.local_addr()?;
        let (send, ready) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let (stream, from) = match tcp.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::warn!("connection not accepted: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                if send.is_closed() {
                    return;
                }
                let acceptor = acceptor.clone();
                let send = send.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => drop(send.send((tls, from)).await),
                        Ok(Err(e)) => tracing::debug!(%from, "TLS handshake failed: {e}"),
                        Err(_) => tracing::debug!(%from, "TLS handshake took too long"),
                    }
                });
            }
        });
        Ok(Listener { ready, local })
    }
}

impl axum::serve::Listener for Listener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(ready) => ready,
            // The accepting task ends only when this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

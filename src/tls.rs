//! TLS for the connections the core makes itself (the desktop's team
//! client, the panel mailbox): rustls on ring, trusting the operating
//! system's authorities or one certificate authority a company gives.

use crate::{Error, Result};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use std::sync::Arc;
use tokio_rustls::rustls::{self, ClientConfig};

/// TLS that trusts the authority `pem` alone.
pub(crate) fn trusting(pem: &str) -> Result<ClientConfig> {
    let refused = || {
        Error::invalid(
            "CA certificate",
            pem,
            "is not a PEM certificate (-----BEGIN CERTIFICATE-----)",
        )
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        roots
            .add(cert.map_err(|_| refused())?)
            .map_err(|_| refused())?;
    }
    if roots.is_empty() {
        return Err(refused());
    }
    Ok(ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Storage {
            reason: format!("TLS could not be set up: {e}"),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// TLS that trusts the authorities the operating system trusts, or `ca`
/// alone when one is given.
pub(crate) fn client(ca: Option<&str>) -> Result<ClientConfig> {
    if let Some(pem) = ca {
        return trusting(pem);
    }
    use rustls_platform_verifier::BuilderVerifierExt;
    ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_platform_verifier())
        .map(|b| b.with_no_client_auth())
        .map_err(|e| Error::Storage {
            reason: format!("TLS could not be set up: {e}"),
        })
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

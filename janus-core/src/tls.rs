//! The TLS client setup every transport shares (feature `tls`): rustls with the *ring*
//! provider, the Mozilla roots, and optionally the CA certificates of a PEM file.
//!
//! Settings that belong to one wire (ALPN protocols, HTTP versions) stay in its transport,
//! which adjusts a clone of the [`client_config`] it gets here.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use crate::error::Error;

/// A rustls client configuration: the *ring* provider, rustls' safe default protocol
/// versions, the Mozilla roots (`webpki-roots`) plus every certificate of `ca_file` (a PEM
/// file of extra CAs to trust, such as a private CA), no client certificate, no ALPN.
///
/// Fails with a configuration error naming the file when it cannot be read, holds a
/// certificate rustls refuses, or holds no PEM certificate at all.
///
/// ```
/// let config = janus_core::tls::client_config(None)?;
/// assert!(config.alpn_protocols.is_empty());
/// let err = janus_core::tls::client_config(Some("/nonexistent/ca.pem".as_ref())).unwrap_err();
/// assert!(err.to_string().contains("/nonexistent/ca.pem"));
/// # Ok::<(), janus_core::Error>(())
/// ```
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, Error> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        add_ca_file(&mut roots, path)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::config(format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Adds every certificate of the PEM file at `path` to `roots`; at least one is required.
fn add_ca_file(roots: &mut rustls::RootCertStore, path: &Path) -> Result<(), Error> {
    let shown = path.display();
    let unreadable =
        |e: &dyn std::fmt::Display| Error::config(format!("cannot read tls_ca_file {shown}: {e}"));
    let pem = std::fs::read(path).map_err(|e| unreadable(&e))?;
    let mut added = 0usize;
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| unreadable(&e))?;
        roots
            .add(cert)
            .map_err(|e| Error::config(format!("bad certificate in {shown}: {e}")))?;
        added += 1;
    }
    if added == 0 {
        return Err(Error::config(format!(
            "tls_ca_file {shown} holds no PEM certificate"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use std::path::PathBuf;

    /// A file in a fresh temporary directory, removed with it.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(name: &str, content: &[u8]) -> Self {
            let dir =
                std::env::temp_dir().join(format!("janus-core-tls-{}-{name}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join(name);
            std::fs::write(&path, content).unwrap();
            TempFile(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            if let Some(dir) = self.0.parent() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }

    fn config_error(path: &Path, want: &str) {
        let e = client_config(Some(path)).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::Config(_)), "{e:?}");
        let text = e.to_string();
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains(want), "{text:?} does not contain {want:?}");
    }

    #[test]
    fn without_a_ca_file_the_mozilla_roots_and_no_alpn() {
        let config = client_config(None).unwrap();
        assert!(config.alpn_protocols.is_empty());
    }

    #[test]
    fn a_good_pem_is_accepted() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/testdata/ca.pem");
        client_config(Some(Path::new(path))).unwrap();
        // Several certificates, and text around them, are fine too.
        let pem = std::fs::read(path).unwrap();
        let mut two = b"a private CA\n".to_vec();
        two.extend_from_slice(&pem);
        two.extend_from_slice(&pem);
        let file = TempFile::new("two.pem", &two);
        client_config(Some(&file.0)).unwrap();
    }

    #[test]
    fn a_missing_file_is_a_config_error_naming_it() {
        config_error(
            Path::new("/nonexistent/ca.pem"),
            "cannot read tls_ca_file /nonexistent/ca.pem",
        );
    }

    #[test]
    fn a_file_without_certificates_is_a_config_error_naming_it() {
        let file = TempFile::new("empty.pem", b"no certificate here\n");
        config_error(&file.0, "holds no PEM certificate");
        let manifest = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"));
        config_error(manifest, "holds no PEM certificate");
    }

    #[test]
    fn a_broken_certificate_is_a_config_error_naming_the_file() {
        // Valid PEM whose content is not a certificate.
        let file = TempFile::new(
            "broken.pem",
            b"-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n",
        );
        config_error(&file.0, "bad certificate in");
        // Not even valid PEM.
        let file = TempFile::new(
            "garbled.pem",
            b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n",
        );
        config_error(&file.0, "cannot read tls_ca_file");
    }
}

//! Which certificates `builtin:download` trusts for `https` URLs.
//!
//! guix-daemon's download helper does not check certificates at all
//! (`#:verify-certificate? #f`: the output's hash is known, so a forged
//! file is refused anyway). abovo checks them by default, so that a
//! man in the middle is named as such instead of showing up as a hash
//! mismatch; [`Trust::Insecure`] (`--no-check-certificate`) does what Guix
//! does. The trust store is chosen in this order:
//!
//! 1. the file given with `--ca-file` (PEM, one or more certificates);
//! 2. `$SSL_CERT_FILE`, as OpenSSL and GnuTLS read it;
//! 3. every PEM file in `$SSL_CERT_DIR`;
//! 4. Mozilla's roots, built into abovo (the `webpki-roots` crate), which
//!    do not depend on the host.
//!
//! Guix System sets `SSL_CERT_DIR` and `SSL_CERT_FILE` in the environment
//! of its users, so abovo trusts there what the rest of the system trusts.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

/// How certificates are checked.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Trust {
    /// Choose as the module says: `$SSL_CERT_FILE`, `$SSL_CERT_DIR`, or the
    /// built-in roots.
    #[default]
    FromEnvironment,
    /// Exactly the certificates of this PEM file.
    CaFile(PathBuf),
    /// No check at all (what guix-daemon does).
    Insecure,
}

/// The roots in use, described for messages.
#[derive(Debug, Clone)]
pub struct TrustStore {
    /// ureq's configuration.
    pub config: TlsConfig,
    /// Where the roots come from, for error messages.
    pub source: String,
}

impl Trust {
    /// Loads the roots. `env` reads an environment variable (so tests and
    /// callers need not touch the process environment).
    pub fn load(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<TrustStore, String> {
        let from_env = |name: &str| env(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let (roots, source) = match self {
            Trust::Insecure => {
                return Ok(TrustStore {
                    config: TlsConfig::builder().disable_verification(true).build(),
                    source: "no certificate check (--no-check-certificate)".into(),
                });
            }
            Trust::CaFile(f) => (load_file(f)?, format!("--ca-file {}", f.display())),
            Trust::FromEnvironment => {
                if let Some(f) = from_env("SSL_CERT_FILE") {
                    let certs = load_file(&f)?;
                    (certs, format!("SSL_CERT_FILE={}", f.display()))
                } else if let Some(d) = from_env("SSL_CERT_DIR") {
                    (load_dir(&d)?, format!("SSL_CERT_DIR={}", d.display()))
                } else {
                    return Ok(TrustStore {
                        config: TlsConfig::builder().root_certs(RootCerts::WebPki).build(),
                        source: "abovo's built-in Mozilla roots".into(),
                    });
                }
            }
        };
        Ok(TrustStore {
            config: TlsConfig::builder()
                .root_certs(RootCerts::Specific(Arc::new(roots)))
                .build(),
            source,
        })
    }
}

fn pem_certificates(bytes: &[u8]) -> Vec<Certificate<'static>> {
    ureq::tls::parse_pem(bytes)
        .filter_map(|item| match item {
            Ok(PemItem::Certificate(c)) => Some(c.to_owned()),
            _ => None,
        })
        .collect()
}

fn load_file(file: &Path) -> Result<Vec<Certificate<'static>>, String> {
    let bytes = std::fs::read(file)
        .map_err(|e| format!("cannot read the CA file `{}`: {e}", file.display()))?;
    let certs = pem_certificates(&bytes);
    if certs.is_empty() {
        return Err(format!(
            "the CA file `{}` holds no PEM certificate",
            file.display()
        ));
    }
    Ok(certs)
}

fn load_dir(dir: &Path) -> Result<Vec<Certificate<'static>>, String> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot list the CA directory `{}`: {e}", dir.display()))?;
    let mut certs = Vec::new();
    for entry in entries.flatten() {
        // Unreadable entries and files that are not PEM are skipped, as
        // OpenSSL does with a hashed directory.
        if let Ok(bytes) = std::fs::read(entry.path()) {
            certs.extend(pem_certificates(&bytes));
        }
    }
    if certs.is_empty() {
        return Err(format!(
            "the CA directory `{}` holds no PEM certificate",
            dir.display()
        ));
    }
    Ok(certs)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    const NOT_PEM: &str = "hello\n";

    #[test]
    fn the_trust_store_is_chosen_in_order() {
        let none = |_: &str| None;
        assert!(
            Trust::FromEnvironment
                .load(&none)
                .unwrap()
                .source
                .contains("built-in")
        );
        let insecure = Trust::Insecure.load(&none).unwrap();
        assert!(insecure.config.disable_verification());
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.pem");
        std::fs::write(&bad, NOT_PEM).unwrap();
        let err = Trust::CaFile(bad.clone()).load(&none).unwrap_err();
        assert!(err.contains("holds no PEM certificate"), "{err}");
        let err = Trust::CaFile(dir.path().join("missing"))
            .load(&none)
            .unwrap_err();
        assert!(err.contains("cannot read the CA file"), "{err}");
        // SSL_CERT_FILE wins over SSL_CERT_DIR, and is read.
        let bad_s = bad.to_str().unwrap().to_owned();
        let env = move |k: &str| match k {
            "SSL_CERT_FILE" => Some(bad_s.clone()),
            "SSL_CERT_DIR" => Some("/nonexistent".into()),
            _ => None,
        };
        let err = Trust::FromEnvironment.load(&env).unwrap_err();
        assert!(err.contains("bad.pem"), "{err}");
        let dir_s = dir.path().to_str().unwrap().to_owned();
        let env = move |k: &str| (k == "SSL_CERT_DIR").then(|| dir_s.clone());
        let err = Trust::FromEnvironment.load(&env).unwrap_err();
        assert!(err.contains("CA directory"), "{err}");
    }
}

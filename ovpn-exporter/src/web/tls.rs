//! The web config's `tls_server_config`, as a rustls server configuration
//! on the ring provider.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme,
};
use serde::Deserialize;

/// `tls_server_config` as written in the file (exporter-toolkit names).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFile {
    #[serde(default)]
    cert_file: Option<PathBuf>,
    #[serde(default)]
    key_file: Option<PathBuf>,
    #[serde(default)]
    client_auth_type: Option<String>,
    #[serde(default)]
    client_ca_file: Option<PathBuf>,
    #[serde(default)]
    min_version: Option<String>,
    #[serde(default)]
    max_version: Option<String>,
}

/// What a TLS configuration demands of a client's certificate before it
/// serves the client, weakest first: the order a reload may not go down
/// ([`super::config`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum ClientCerts {
    /// None needed (`NoClientCert`, `RequestClientCert`,
    /// `VerifyClientCertIfGiven`): a client without one is served.
    #[default]
    Optional,
    /// Any certificate, unverified (`RequireAnyClientCert`).
    Any,
    /// One that `client_ca_file` verifies (`RequireAndVerifyClientCert`).
    Verified,
}

/// What a TLS configuration asks of clients. A reload may not lower the
/// demand on certificates or the minimum version; a connection made under
/// one policy is not served under another (a reload that changes it
/// closes the connections made before, at their next request).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// What a client's certificate must be.
    pub client_certs: ClientCerts,
    /// The lowest TLS version accepted: 12 or 13.
    pub min_version: u8,
    /// A digest of the client CA certificates (0 without).
    ca: u64,
}

/// exporter-toolkit's `client_auth_type` values (Go's `tls.ClientAuthType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ClientAuth {
    NoClientCert,
    RequestClientCert,
    RequireAnyClientCert,
    VerifyClientCertIfGiven,
    RequireAndVerifyClientCert,
}

impl ClientAuth {
    fn parse(s: Option<&str>) -> Result<ClientAuth, String> {
        Ok(match s.unwrap_or("") {
            "" | "NoClientCert" => ClientAuth::NoClientCert,
            "RequestClientCert" => ClientAuth::RequestClientCert,
            "RequireAnyClientCert" => ClientAuth::RequireAnyClientCert,
            "VerifyClientCertIfGiven" => ClientAuth::VerifyClientCertIfGiven,
            "RequireAndVerifyClientCert" => ClientAuth::RequireAndVerifyClientCert,
            other => {
                return Err(format!(
                    "tls_server_config.client_auth_type {other:?}: use NoClientCert, \
                     RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven or \
                     RequireAndVerifyClientCert"
                ));
            }
        })
    }

    fn demands(self) -> ClientCerts {
        match self {
            ClientAuth::NoClientCert
            | ClientAuth::RequestClientCert
            | ClientAuth::VerifyClientCertIfGiven => ClientCerts::Optional,
            ClientAuth::RequireAnyClientCert => ClientCerts::Any,
            ClientAuth::RequireAndVerifyClientCert => ClientCerts::Verified,
        }
    }
}

fn version(key: &str, v: Option<&str>) -> Result<Option<u8>, String> {
    match v.unwrap_or("") {
        "" => Ok(None),
        "TLS12" => Ok(Some(12)),
        "TLS13" => Ok(Some(13)),
        "TLS10" | "TLS11" => Err(format!(
            "tls_server_config.{key} {:?} is not supported: use TLS12 or TLS13",
            v.unwrap_or("")
        )),
        other => Err(format!(
            "tls_server_config.{key} {other:?}: use TLS12 or TLS13"
        )),
    }
}

/// Files a TLS configuration reads, for change detection.
pub fn files(tls: &TlsFile, dir: &Path) -> Vec<PathBuf> {
    [&tls.cert_file, &tls.key_file, &tls.client_ca_file]
        .into_iter()
        .flatten()
        .filter(|p| !p.as_os_str().is_empty())
        .map(|p| dir.join(p))
        .collect()
}

/// Builds the server configuration and says what it demands of client
/// certificates; `Ok(None)` when neither a certificate nor a key is given
/// (plain HTTP, as in exporter-toolkit). Relative paths are relative to
/// `dir`, the web config file's directory.
///
/// # Errors
/// One line naming the key or file and the problem.
pub fn server_config(
    tls: &TlsFile,
    dir: &Path,
) -> Result<Option<(Arc<ServerConfig>, Policy)>, String> {
    let non_empty = |p: &Option<PathBuf>| p.clone().filter(|p| !p.as_os_str().is_empty());
    let (cert, key) = match (non_empty(&tls.cert_file), non_empty(&tls.key_file)) {
        (None, None) => {
            if tls.client_ca_file.is_some() || tls.client_auth_type.is_some() {
                return Err(
                    "tls_server_config: client certificate settings need cert_file and key_file"
                        .into(),
                );
            }
            return Ok(None);
        }
        (Some(_), None) => {
            return Err("tls_server_config: cert_file is set but key_file is not".into());
        }
        (None, Some(_)) => {
            return Err("tls_server_config: key_file is set but cert_file is not".into());
        }
        (Some(c), Some(k)) => (dir.join(c), dir.join(k)),
    };
    let auth = ClientAuth::parse(tls.client_auth_type.as_deref())?;
    let ca = non_empty(&tls.client_ca_file).map(|p| dir.join(p));
    let min = version("min_version", tls.min_version.as_deref())?.unwrap_or(12);
    let max = version("max_version", tls.max_version.as_deref())?.unwrap_or(13);
    if min > max {
        return Err("tls_server_config: min_version is above max_version".into());
    }
    let versions: Vec<&'static rustls::SupportedProtocolVersion> =
        [(12, &rustls::version::TLS12), (13, &rustls::version::TLS13)]
            .into_iter()
            .filter(|(v, _)| (min..=max).contains(v))
            .map(|(_, p)| p)
            .collect();

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let (verifier, ca) = client_verifier(auth, ca.as_deref(), &provider)?;
    let certs = pem_file(&cert)
        .and_then(|pem| CertificateDer::pem_slice_iter(&pem).collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("tls_server_config.cert_file {}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "tls_server_config.cert_file {}: no PEM certificate in it",
            cert.display()
        ));
    }
    let key_err =
        |e: &dyn std::fmt::Display| format!("tls_server_config.key_file {}: {e}", key.display());
    let key_pem = pem_file(&key).map_err(|e| key_err(&e))?;
    // PKCS#8 `ENCRYPTED PRIVATE KEY`, or OpenSSL's legacy `Proc-Type:
    // 4,ENCRYPTED` header: the parser's own errors would not say so.
    if [&b"-----BEGIN ENCRYPTED "[..], b"Proc-Type: 4,ENCRYPTED"]
        .iter()
        .any(|m| memchr::memmem::find(&key_pem, m).is_some())
    {
        return Err(key_err(
            &"the key is encrypted, and there is no passphrase to give; store it \
              decrypted (openssl pkey -in KEY -out PLAIN) and readable by the exporter only",
        ));
    }
    let key_der = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| key_err(&e))?;
    crate::warn_if_world_readable(&key, "TLS private key");

    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&versions)
        .map_err(|e| format!("tls_server_config: {e}"))?;
    let builder = match verifier {
        Some(v) => builder.with_client_cert_verifier(v),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(certs, key_der).map_err(|e| {
        format!(
            "tls_server_config: cert_file {} and key_file {}: {e}",
            cert.display(),
            key.display()
        )
    })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let policy = Policy {
        client_certs: auth.demands(),
        min_version: min,
        ca,
    };
    Ok(Some((Arc::new(config), policy)))
}

/// Largest certificate, key or CA file read (a CA bundle of all the Web's
/// roots is about 200 KiB).
const MAX_PEM_BYTES: u64 = 4 << 20;

/// The bytes of a PEM file: regular files only, so that a reload cannot
/// block on a FIFO put in a certificate's place.
fn pem_file(path: &Path) -> Result<Vec<u8>, rustls::pki_types::pem::Error> {
    crate::read_regular(path, MAX_PEM_BYTES).map_err(rustls::pki_types::pem::Error::Io)
}

/// The client certificate policy (`None` for `NoClientCert`), and a
/// digest of the CA certificates it verifies with.
fn client_verifier(
    auth: ClientAuth,
    ca: Option<&Path>,
    provider: &Arc<rustls::crypto::CryptoProvider>,
) -> Result<(Option<Arc<dyn ClientCertVerifier>>, u64), String> {
    let mut digest = 0;
    let verifier: Option<Arc<dyn ClientCertVerifier>> = match (auth, ca) {
        (ClientAuth::NoClientCert, Some(_)) => {
            return Err(
                "tls_server_config: client_ca_file is set but client_auth_type is NoClientCert"
                    .into(),
            );
        }
        (ClientAuth::NoClientCert, None) => None,
        (ClientAuth::VerifyClientCertIfGiven | ClientAuth::RequireAndVerifyClientCert, None) => {
            return Err(format!(
                "tls_server_config: client_auth_type {auth:?} needs client_ca_file"
            ));
        }
        (ClientAuth::RequestClientCert | ClientAuth::RequireAnyClientCert, _) => {
            Some(Arc::new(AnyClientCert {
                mandatory: auth == ClientAuth::RequireAnyClientCert,
                algorithms: provider.signature_verification_algorithms,
            }))
        }
        (
            ClientAuth::VerifyClientCertIfGiven | ClientAuth::RequireAndVerifyClientCert,
            Some(ca),
        ) => {
            let mut roots = RootCertStore::empty();
            let ca_certs = pem_file(ca)
                .and_then(|pem| CertificateDer::pem_slice_iter(&pem).collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("tls_server_config.client_ca_file {}: {e}", ca.display()))?;
            digest = {
                use std::hash::{Hash as _, Hasher as _};
                let mut h = std::hash::DefaultHasher::new();
                for c in &ca_certs {
                    c.as_ref().hash(&mut h);
                }
                h.finish()
            };
            let (added, _) = roots.add_parsable_certificates(ca_certs);
            if added == 0 {
                return Err(format!(
                    "tls_server_config.client_ca_file {}: no usable CA certificate in it",
                    ca.display()
                ));
            }
            let builder =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(provider));
            let builder = if auth == ClientAuth::VerifyClientCertIfGiven {
                builder.allow_unauthenticated()
            } else {
                builder
            };
            Some(
                builder.build().map_err(|e| {
                    format!("tls_server_config.client_ca_file {}: {e}", ca.display())
                })?,
            )
        }
    };
    Ok((verifier, digest))
}

/// `RequestClientCert` and `RequireAnyClientCert`: a certificate is asked
/// for (and with the second, required) but not checked against any CA, as
/// in Go. The handshake still proves the client holds its key.
#[derive(Debug)]
struct AnyClientCert {
    mandatory: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyClientCert {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

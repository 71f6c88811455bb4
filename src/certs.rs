//! Development certificates: a private CA, a server certificate for `localhost`/`127.0.0.1`
//! and a client certificate for the NSW partner (`nsw-gateway certs dev DIR`).

use std::path::{Path, PathBuf};

use anyhow::Context;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use sha2::{Digest, Sha256};

/// A certificate authority that can issue server and client certificates.
pub struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

/// An issued certificate with its private key.
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: Vec<u8>,
}

impl Issued {
    /// SHA-256 of the DER certificate (what `partners[].cert_sha256` binds).
    pub fn sha256(&self) -> [u8; 32] {
        Sha256::digest(&self.der).into()
    }
}

fn dn(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "nsw-gateway development");
    dn.push(DnType::CommonName, cn);
    dn
}

impl Ca {
    /// A new self-signed CA.
    pub fn new(cn: &str) -> anyhow::Result<Ca> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name = dn(cn);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        Ok(Ca { cert, key })
    }

    pub fn cert_pem(&self) -> String {
        self.cert.pem()
    }

    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }

    fn issue(
        &self,
        cn: &str,
        names: &[&str],
        usage: ExtendedKeyUsagePurpose,
    ) -> anyhow::Result<Issued> {
        let mut params =
            CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())?;
        params.distinguished_name = dn(cn);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![usage];
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.cert, &self.key)?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        })
    }

    /// A server certificate for the given DNS names / IP addresses.
    pub fn issue_server(&self, names: &[&str]) -> anyhow::Result<Issued> {
        let cn = names.first().copied().unwrap_or("localhost");
        self.issue(cn, names, ExtendedKeyUsagePurpose::ServerAuth)
    }

    /// A client certificate with this subject common name.
    pub fn issue_client(&self, cn: &str) -> anyhow::Result<Issued> {
        self.issue(cn, &[], ExtendedKeyUsagePurpose::ClientAuth)
    }
}

/// The files written by [`write_dev_certs`].
#[derive(Debug, Clone)]
pub struct DevCertificates {
    pub ca_cert: PathBuf,
    pub ca_key: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// SHA-256 of the client certificate, lower-case hex.
    pub client_sha256: String,
}

fn write(path: &Path, text: &str, private: bool) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot restrict {}", path.display()))?;
    }
    #[cfg(not(unix))]
    let _ = private;
    Ok(())
}

/// Writes a development CA, a server certificate (SAN `localhost`, `127.0.0.1`) and a client
/// certificate (CN `NSW`) into `dir` (created if needed).
pub fn write_dev_certs(dir: &Path) -> anyhow::Result<DevCertificates> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let ca = Ca::new("nsw-gateway development CA")?;
    let server = ca.issue_server(&["localhost", "127.0.0.1"])?;
    let client = ca.issue_client("NSW")?;
    let out = DevCertificates {
        ca_cert: dir.join("ca.pem"),
        ca_key: dir.join("ca-key.pem"),
        server_cert: dir.join("server.pem"),
        server_key: dir.join("server-key.pem"),
        client_cert: dir.join("client.pem"),
        client_key: dir.join("client-key.pem"),
        client_sha256: hex::encode(client.sha256()),
    };
    write(&out.ca_cert, &ca.cert_pem(), false)?;
    write(&out.ca_key, &ca.key_pem(), true)?;
    write(&out.server_cert, &server.cert_pem, false)?;
    write(&out.server_key, &server.key_pem, true)?;
    write(&out.client_cert, &client.cert_pem, false)?;
    write(&out.client_key, &client.key_pem, true)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_certificates_are_written_and_usable() {
        crate::http::tls::install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let out = write_dev_certs(dir.path()).unwrap();
        for p in [
            &out.ca_cert,
            &out.ca_key,
            &out.server_cert,
            &out.server_key,
            &out.client_cert,
            &out.client_key,
        ] {
            assert!(p.is_file(), "{}", p.display());
        }
        let der = std::fs::read_to_string(&out.client_cert).unwrap();
        let der = rustls_pemfile::certs(&mut der.as_bytes())
            .next()
            .unwrap()
            .unwrap();
        let id = crate::http::tls::PeerIdentity::from_der(&der);
        assert_eq!(id.fingerprint_hex(), out.client_sha256);
        assert_eq!(id.subject_cn.as_deref(), Some("NSW"));
        // The server files form a valid rustls configuration requiring client certificates.
        let settings = crate::config::TlsSettings {
            cert: out.server_cert.clone(),
            key: out.server_key.clone(),
            client_ca: Some(out.ca_cert.clone()),
            reload_interval: std::time::Duration::from_secs(5),
        };
        crate::http::tls::load_server_config(&settings).unwrap();
    }
}

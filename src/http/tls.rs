//! TLS for the ebMS listener: server configuration from PEM files, optional required client
//! certificates, the peer identity of a connection, and replacement of certificates without a
//! restart (explicit, on SIGHUP, or when the files change).

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use anyhow::{anyhow, Context};
use arc_swap::ArcSwap;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use crate::config::{CertBinding, TlsSettings};

/// Installs ring as the process-wide rustls crypto provider (idempotent).
pub fn install_crypto_provider() {
    // Err means a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Who is at the other end of a mutually authenticated connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerIdentity {
    /// SHA-256 of the client certificate (DER).
    pub sha256: [u8; 32],
    /// The certificate subject's common name, if it has one.
    pub subject_cn: Option<String>,
}

impl PeerIdentity {
    /// Reads the identity from a DER certificate (already verified by rustls).
    pub fn from_der(der: &[u8]) -> PeerIdentity {
        let sha256: [u8; 32] = Sha256::digest(der).into();
        let subject_cn = x509_parser::parse_x509_certificate(der)
            .ok()
            .and_then(|(_, cert)| {
                cert.subject()
                    .iter_common_name()
                    .next()
                    .and_then(|cn| cn.as_str().ok())
                    .map(str::to_string)
            });
        PeerIdentity { sha256, subject_cn }
    }

    /// The fingerprint as lower-case hex (the form used in the configuration).
    pub fn fingerprint_hex(&self) -> String {
        hex::encode(self.sha256)
    }

    /// Whether this certificate is the one bound to a partner: every element the binding gives
    /// must match; an empty binding matches nothing.
    pub fn matches(&self, binding: &CertBinding) -> bool {
        if binding.is_empty() {
            return false;
        }
        let fp_ok = binding.sha256.is_none_or(|fp| fp == self.sha256);
        let cn_ok = binding
            .subject_cn
            .as_deref()
            .is_none_or(|cn| self.subject_cn.as_deref() == Some(cn));
        fp_ok && cn_ok
    }
}

fn read_certs(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let certs = rustls_pemfile::certs(&mut BufReader::new(file))
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{}: not a PEM certificate file", path.display()))?;
    if certs.is_empty() {
        return Err(anyhow!("{}: contains no certificate", path.display()));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> anyhow::Result<PrivateKeyDer<'static>> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    rustls_pemfile::private_key(&mut BufReader::new(file))
        .with_context(|| format!("{}: not a PEM key file", path.display()))?
        .ok_or_else(|| anyhow!("{}: contains no private key", path.display()))
}

/// Builds the rustls server configuration from the files named in the settings.
pub fn load_server_config(settings: &TlsSettings) -> anyhow::Result<Arc<ServerConfig>> {
    load(settings, SystemTime::now()).map(|(current, _)| current.config)
}

/// The server certificate in use: its fingerprint and the end of its validity.
struct Leaf {
    sha256: String,
    not_after: String,
}

/// The server certificate (the first of `tls.cert`), when it is valid at `now`: one outside
/// its validity period would fail every handshake.
fn usable_leaf(der: &CertificateDer<'_>, path: &Path, now: SystemTime) -> anyhow::Result<Leaf> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| {
        anyhow!(
            "{}: the first certificate cannot be read: {e}",
            path.display()
        )
    })?;
    let v = cert.validity();
    let at = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()
        .and_then(|d| x509_parser::time::ASN1Time::from_timestamp(d.as_secs() as i64).ok())
        .ok_or_else(|| anyhow!("the system clock is before 1970"))?;
    if at < v.not_before {
        anyhow::bail!(
            "{}: the certificate is valid only from {}",
            path.display(),
            v.not_before
        );
    }
    if at > v.not_after {
        anyhow::bail!(
            "{}: the certificate expired on {}",
            path.display(),
            v.not_after
        );
    }
    Ok(Leaf {
        sha256: hex::encode(Sha256::digest(der.as_ref())),
        not_after: v.not_after.to_string(),
    })
}

/// Refuses a client CA file entry that says it is not a CA certificate (a partner's own
/// certificate put there by mistake): no client certificate would chain to it. That is a
/// certificate whose basic constraints say it is no CA, or, without them, whose key usage
/// leaves out signing certificates; a version 1 certificate (no extensions, as old roots
/// are) is taken as a trust anchor, as rustls takes it.
fn check_ca(der: &CertificateDer<'_>, n: usize, path: &Path) -> anyhow::Result<()> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| anyhow!("{}: certificate {n} cannot be read: {e}", path.display()))?;
    let not_a_ca = match cert.basic_constraints() {
        Ok(Some(bc)) => !bc.value.ca,
        _ => matches!(cert.key_usage(), Ok(Some(ku)) if !ku.value.key_cert_sign()),
    };
    if not_a_ca {
        anyhow::bail!(
            "{}: certificate {n} ({}) is not a CA certificate",
            path.display(),
            cert.subject()
        );
    }
    Ok(())
}

fn load(settings: &TlsSettings, now: SystemTime) -> anyhow::Result<(Current, Leaf)> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs = read_certs(&settings.cert).context("tls.cert")?;
    let leaf = usable_leaf(&certs[0], &settings.cert, now).context("tls.cert")?;
    let key = read_key(&settings.key).context("tls.key")?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?;
    let (builder, clients) = match &settings.client_ca {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for (n, cert) in read_certs(ca)
                .context("tls.client_ca")?
                .into_iter()
                .enumerate()
            {
                check_ca(&cert, n + 1, ca).context("tls.client_ca")?;
                roots
                    .add(cert)
                    .with_context(|| format!("tls.client_ca: {}: bad CA", ca.display()))?;
            }
            // A client without a certificate completes the handshake and is answered 403 by
            // the ebMS handler, before its message is read (spec §1.2: "authentication failed"
            // is an HTTP answer); a certificate that does not chain to `client_ca` still
            // fails the handshake.
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .context("tls.client_ca: cannot build the client verifier")?;
            (
                builder.with_client_cert_verifier(verifier.clone()),
                Some(verifier),
            )
        }
        None => (builder.with_no_client_auth(), None),
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .context("tls.cert / tls.key: the key does not fit the certificate")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let config = Arc::new(config);
    Ok((Current { config, clients }, leaf))
}

/// A server configuration (for new connections) and, when client certificates are checked,
/// the verifier it was built with (rustls does not hand it out again), which open connections
/// are checked against again after a reload.
struct Current {
    config: Arc<ServerConfig>,
    clients: Option<Arc<dyn ClientCertVerifier>>,
}

/// The current server configuration, replaceable while serving: new connections use the new
/// certificate; an open connection keeps its own, and is closed when its client certificate
/// no longer verifies against the new client CAs (see [`ClientChain`]).
pub struct TlsReloader {
    settings: TlsSettings,
    current: ArcSwap<Current>,
    /// What the files held when the configuration in use was read; held during a reload,
    /// so that reloads take turns.
    stamps: Mutex<Vec<Option<[u8; 32]>>>,
    /// Counts the reloads, for open connections to check their clients again.
    reloads: watch::Sender<u64>,
}

impl TlsReloader {
    pub fn new(settings: TlsSettings) -> anyhow::Result<TlsReloader> {
        let stamps = file_stamps(&settings);
        let (current, leaf) = load(&settings, SystemTime::now())?;
        tracing::info!(cert = %settings.cert.display(), sha256 = %leaf.sha256, not_after = %leaf.not_after, "TLS certificate");
        Ok(TlsReloader {
            settings,
            current: ArcSwap::from_pointee(current),
            stamps: Mutex::new(stamps),
            reloads: watch::Sender::new(0),
        })
    }

    /// The configuration for a new connection.
    pub fn current(&self) -> Arc<ServerConfig> {
        self.current.load().config.clone()
    }

    /// Changes with every successful reload.
    pub fn reloads(&self) -> watch::Receiver<u64> {
        self.reloads.subscribe()
    }

    /// Whether a client certificate chain that an earlier handshake accepted verifies against
    /// the client CAs in use now, at `now`. Without client CAs there is nothing to check.
    pub fn verify_client(&self, chain: &ClientChain, now: SystemTime) -> Result<(), rustls::Error> {
        let Some(verifier) = self.current.load().clients.clone() else {
            return Ok(());
        };
        let Some((end_entity, intermediates)) = chain.certs.split_first() else {
            return Ok(());
        };
        let at = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        verifier
            .verify_client_cert(end_entity, intermediates, UnixTime::since_unix_epoch(at))
            .map(|_| ())
    }

    pub fn settings(&self) -> &TlsSettings {
        &self.settings
    }

    /// Re-reads the files and swaps the configuration. On error the old one stays in use.
    pub fn reload(&self) -> anyhow::Result<()> {
        let mut stamps = self.stamps.lock().unwrap_or_else(|p| p.into_inner());
        self.reload_holding(&mut stamps, file_stamps(&self.settings))
    }

    /// Reloads when a file's contents changed since the last load (whatever its modification
    /// time says: a set staged elsewhere and swapped in may keep its old times).
    pub fn reload_if_changed(&self) -> anyhow::Result<bool> {
        let mut stamps = self.stamps.lock().unwrap_or_else(|p| p.into_inner());
        let now = file_stamps(&self.settings);
        if *stamps == now {
            return Ok(false);
        }
        self.reload_holding(&mut stamps, now)?;
        Ok(true)
    }

    fn reload_holding(
        &self,
        stamps: &mut Vec<Option<[u8; 32]>>,
        read: Vec<Option<[u8; 32]>>,
    ) -> anyhow::Result<()> {
        let (current, leaf) = load(&self.settings, SystemTime::now())?;
        self.current.store(Arc::new(current));
        *stamps = read;
        self.reloads.send_modify(|n| *n += 1);
        tracing::info!(cert = %self.settings.cert.display(), sha256 = %leaf.sha256, not_after = %leaf.not_after, "TLS certificates reloaded");
        Ok(())
    }
}

/// The certificates a client presented in its handshake, and when the first of them expires:
/// what an open connection is checked against again after a reload, and at that time.
pub struct ClientChain {
    certs: Vec<CertificateDer<'static>>,
    /// The earliest end of validity among them; `None` when none can be read (rustls
    /// accepted them, so that does not happen).
    pub expires: Option<SystemTime>,
}

impl ClientChain {
    pub fn new(certs: &[CertificateDer<'_>]) -> ClientChain {
        let expires = certs
            .iter()
            .filter_map(|c| {
                let (_, cert) = x509_parser::parse_x509_certificate(c).ok()?;
                let secs = u64::try_from(cert.validity().not_after.timestamp()).ok()?;
                Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
            })
            .min();
        ClientChain {
            certs: certs.iter().map(|c| c.clone().into_owned()).collect(),
            expires,
        }
    }
}

/// What each file holds (SHA-256), `None` for one that cannot be read.
fn file_stamps(s: &TlsSettings) -> Vec<Option<[u8; 32]>> {
    [Some(&s.cert), Some(&s.key), s.client_ca.as_ref()]
        .into_iter()
        .flatten()
        .map(|p| std::fs::read(p).ok().map(|b| Sha256::digest(&b).into()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certs::Ca;

    #[test]
    fn identity_from_a_client_certificate() {
        let ca = Ca::new("Test CA").unwrap();
        let client = ca.issue_client("NSW").unwrap();
        let id = PeerIdentity::from_der(&client.der);
        assert_eq!(id.subject_cn.as_deref(), Some("NSW"));
        assert_eq!(id.sha256, client.sha256());
        assert_eq!(id.fingerprint_hex().len(), 64);
    }

    #[test]
    fn binding_rules() {
        let id = PeerIdentity {
            sha256: [7; 32],
            subject_cn: Some("NSW".into()),
        };
        let check = |sha256: Option<[u8; 32]>, cn: Option<&str>, expected: bool| {
            let b = CertBinding {
                sha256,
                subject_cn: cn.map(str::to_string),
            };
            assert_eq!(id.matches(&b), expected, "{b:?}");
        };
        check(Some([7; 32]), None, true);
        check(None, Some("NSW"), true);
        check(Some([7; 32]), Some("NSW"), true);
        check(Some([8; 32]), None, false);
        check(None, Some("OTHER"), false);
        check(Some([7; 32]), Some("OTHER"), false);
        check(None, None, false);
    }

    #[test]
    fn reload_when_files_change() {
        install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let write = |ca: &Ca| {
            let server = ca.issue_server(&["localhost"]).unwrap();
            std::fs::write(dir.path().join("s.pem"), &server.cert_pem).unwrap();
            std::fs::write(dir.path().join("k.pem"), &server.key_pem).unwrap();
            server.sha256()
        };
        let first = write(&Ca::new("one").unwrap());
        let settings = TlsSettings {
            cert: dir.path().join("s.pem"),
            key: dir.path().join("k.pem"),
            client_ca: None,
            reload_interval: std::time::Duration::from_secs(5),
        };
        let reloader = TlsReloader::new(settings).unwrap();
        assert!(
            !reloader.reload_if_changed().unwrap(),
            "nothing changed yet"
        );
        // New contents with the old modification times (a set staged elsewhere, then
        // swapped in): the change is seen all the same.
        let times: Vec<_> = ["s.pem", "k.pem"]
            .iter()
            .map(|f| {
                std::fs::metadata(dir.path().join(f))
                    .unwrap()
                    .modified()
                    .unwrap()
            })
            .collect();
        let second = write(&Ca::new("two").unwrap());
        assert_ne!(first, second);
        for (f, t) in ["s.pem", "k.pem"].iter().zip(times) {
            File::options()
                .write(true)
                .open(dir.path().join(f))
                .unwrap()
                .set_modified(t)
                .unwrap();
        }
        assert!(reloader.reload_if_changed().unwrap());
        assert!(!reloader.reload_if_changed().unwrap());
        // A broken file keeps the previous configuration in use.
        let before = reloader.current();
        std::fs::write(dir.path().join("s.pem"), "garbage").unwrap();
        assert!(reloader.reload().is_err());
        assert!(Arc::ptr_eq(&before, &reloader.current()));
    }

    /// A CA with a server certificate and a partner's, and a directory for their files.
    struct Fixture {
        dir: tempfile::TempDir,
        ca: Ca,
        server: crate::certs::Issued,
        partner: crate::certs::Issued,
    }

    impl Fixture {
        fn new() -> Fixture {
            install_crypto_provider();
            let ca = Ca::new("one").unwrap();
            Fixture {
                dir: tempfile::tempdir().unwrap(),
                server: ca.issue_server(&["localhost"]).unwrap(),
                partner: ca.issue_client("NSW").unwrap(),
                ca,
            }
        }

        /// Writes `pem` to the file `name` of the directory; its path.
        fn file(&self, name: &str, pem: &str) -> std::path::PathBuf {
            let p = self.dir.path().join(name);
            std::fs::write(&p, pem).unwrap();
            p
        }
    }

    /// A set that reads but cannot work is refused, naming the file and why: a server
    /// certificate outside its validity period, a client CA file holding a partner's own
    /// certificate.
    #[test]
    fn unusable_certificates_are_refused() {
        let f = Fixture::new();
        let (ca, server, partner) = (&f.ca, &f.server, &f.partner);
        let file = |name: &str, pem: &str| f.file(name, pem);
        let mut s = TlsSettings {
            cert: file("s.pem", &server.cert_pem),
            key: file("k.pem", &server.key_pem),
            client_ca: Some(file("ca.pem", &ca.cert_pem())),
            reload_interval: std::time::Duration::from_secs(5),
        };
        let year = |y: u64| {
            SystemTime::UNIX_EPOCH + std::time::Duration::from_secs((y - 1970) * 31_557_600)
        };
        let refused = |s: &TlsSettings, at: SystemTime| match load(s, at) {
            Ok(_) => String::from("accepted"),
            Err(e) => format!("{e:#}"),
        };
        assert_eq!(refused(&s, SystemTime::now()), "accepted");
        let e = refused(&s, year(5000));
        assert!(
            e.starts_with("tls.cert: ") && e.contains("s.pem: the certificate expired on"),
            "{e}"
        );
        let e = refused(&s, year(1972));
        assert!(
            e.contains("s.pem: the certificate is valid only from"),
            "{e}"
        );
        s.client_ca = Some(file("not-a-ca.pem", &partner.cert_pem));
        let e = refused(&s, SystemTime::now());
        assert!(
            e.starts_with("tls.client_ca: ")
                && e.contains("not-a-ca.pem: certificate 1 (O=nsw-gateway development, CN=NSW) is not a CA certificate"),
            "{e}"
        );
    }

    #[test]
    fn an_accepted_client_is_checked_again_after_a_reload_and_at_its_expiry() {
        let f = Fixture::new();
        let (ca, server, partner) = (&f.ca, &f.server, &f.partner);
        let file = |name: &str, pem: &str| f.file(name, pem);
        let reloader = TlsReloader::new(TlsSettings {
            cert: file("s.pem", &server.cert_pem),
            key: file("k.pem", &server.key_pem),
            client_ca: Some(file("ca.pem", &ca.cert_pem())),
            reload_interval: Duration::from_secs(5),
        })
        .unwrap();
        let mut reloads = reloader.reloads();
        let chain = ClientChain::new(&[CertificateDer::from(partner.der.clone())]);
        let now = SystemTime::now();
        let expires = chain
            .expires
            .expect("the partner certificate's end of validity");
        assert!(expires > now);
        assert!(reloader.verify_client(&chain, now).is_ok());
        let after = expires + Duration::from_secs(1);
        assert!(reloader.verify_client(&chain, after).is_err());

        // A reload with the same CA keeps the client; one without it does not.
        reloader.reload().unwrap();
        assert!(reloads.has_changed().unwrap());
        reloads.mark_unchanged();
        assert!(reloader.verify_client(&chain, now).is_ok());
        file("ca.pem", &Ca::new("two").unwrap().cert_pem());
        reloader.reload().unwrap();
        assert!(reloads.has_changed().unwrap());
        let e = reloader.verify_client(&chain, now).unwrap_err();
        assert!(e.to_string().contains("UnknownIssuer"), "{e}");

        // Without client CAs, there is nothing to check.
        let plain = TlsReloader::new(TlsSettings {
            cert: f.dir.path().join("s.pem"),
            key: f.dir.path().join("k.pem"),
            client_ca: None,
            reload_interval: Duration::from_secs(5),
        })
        .unwrap();
        assert!(plain.verify_client(&chain, after).is_ok());
    }

    #[test]
    fn config_errors_name_the_file() {
        install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("c.pem");
        let key = dir.path().join("k.pem");
        std::fs::write(&cert, "not pem").unwrap();
        std::fs::write(&key, "not pem").unwrap();
        let s = TlsSettings {
            cert: cert.clone(),
            key,
            client_ca: None,
            reload_interval: std::time::Duration::from_secs(5),
        };
        let e = format!("{:#}", load_server_config(&s).unwrap_err());
        assert!(e.contains("tls.cert") && e.contains("c.pem"), "{e}");
    }
}

//! The HTTP client of a load run, and the guard on where it may send.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use reqwest::Url;

/// Client TLS material: a CA to trust (instead of the built-in roots) and a client certificate
/// and key for mutual TLS. All PEM files.
#[derive(Debug, Clone, Default)]
pub struct TlsFiles {
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

fn read(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {what} {}", path.display()))
}

/// Builds a client with keep-alive connections, a pool of `pool` idle connections per host,
/// connect and total timeouts, and rustls (ring) TLS with the given CA and client identity.
pub fn build_client(
    tls: &TlsFiles,
    pool: usize,
    timeout: Duration,
) -> anyhow::Result<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .pool_max_idle_per_host(pool.max(1))
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_nodelay(true)
        .tcp_keepalive(Duration::from_secs(30))
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("mock-nsw/", env!("CARGO_PKG_VERSION")));
    if let Some(ca) = &tls.ca {
        let pem = read(ca, "CA certificate")?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .with_context(|| format!("--ca {}: not a PEM certificate bundle", ca.display()))?;
        if certs.is_empty() {
            bail!("--ca {}: no certificate in the file", ca.display());
        }
        b = b.tls_built_in_root_certs(false);
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    match (&tls.cert, &tls.key) {
        (Some(cert), Some(key)) => {
            let mut pem = read(cert, "client certificate")?;
            pem.push(b'\n');
            pem.extend(read(key, "client key")?);
            let id = reqwest::Identity::from_pem(&pem).with_context(|| {
                format!(
                    "--cert {} / --key {}: not a PEM certificate chain and PKCS#8, RSA or SEC1 key",
                    cert.display(),
                    key.display()
                )
            })?;
            b = b.identity(id);
        }
        (None, None) => {}
        (Some(_), None) => bail!("--cert needs --key (the client certificate's private key)"),
        (None, Some(_)) => bail!("--key needs --cert (the client certificate)"),
    }
    b.build().context("building the HTTP client")
}

/// Parses `--target` and refuses anything but `http`/`https`, and any host that is not a
/// loopback address (`127.0.0.0/8`, `::1`, `localhost`) unless `allow_non_loopback`: mock-nsw
/// generates load, and load must only reach a machine its operator named on purpose.
pub fn check_target(target: &str, allow_non_loopback: bool) -> anyhow::Result<Url> {
    let url = Url::parse(target).with_context(|| format!("--target '{target}' is not a URL"))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        bail!(
            "--target '{target}': scheme must be http or https, not '{}'",
            url.scheme()
        );
    }
    let Some(host) = url.host_str() else {
        bail!("--target '{target}' has no host");
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => {
            let d = bare.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
    };
    if !loopback && !allow_non_loopback {
        bail!(
            "--target '{target}' is not a loopback address; mock-nsw only sends to another \
             machine when --allow-non-loopback is given"
        );
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(target: &str, allow: bool, expected: &str) {
        let got = match check_target(target, allow) {
            Ok(u) => format!("ok {u}"),
            Err(e) => format!("error: {e:#}"),
        };
        assert!(
            got.contains(expected),
            "{target}: got {got:?}, expected {expected:?}"
        );
    }

    #[test]
    fn only_loopback_targets_unless_allowed() {
        check(
            "http://127.0.0.1:8080/ebms",
            false,
            "ok http://127.0.0.1:8080/ebms",
        );
        check("http://127.1.2.3/ebms", false, "ok");
        check("https://localhost:8443/ebms", false, "ok");
        check("https://gw.localhost/ebms", false, "ok");
        check("http://[::1]:8080/ebms", false, "ok");
        check("http://10.0.0.5/ebms", false, "not a loopback address");
        check(
            "https://nsw.example.go.th/ebms",
            false,
            "--allow-non-loopback",
        );
        check("http://[2001:db8::1]/ebms", false, "not a loopback address");
        check(
            "http://localhost.evil.com/ebms",
            false,
            "not a loopback address",
        );
        check(
            "https://nsw.example.go.th/ebms",
            true,
            "ok https://nsw.example.go.th/ebms",
        );
        check("ftp://127.0.0.1/x", false, "scheme must be http or https");
        check("127.0.0.1:8080", false, "is not a URL");
        check("not a url", false, "is not a URL");
    }

    #[test]
    fn tls_options_need_both_cert_and_key() {
        let t = Duration::from_secs(5);
        let only_cert = TlsFiles {
            cert: Some("c.pem".into()),
            ..Default::default()
        };
        let e = build_client(&only_cert, 4, t).unwrap_err().to_string();
        assert!(e.contains("--cert needs --key"), "{e}");
        let missing_ca = TlsFiles {
            ca: Some("/nonexistent/ca.pem".into()),
            ..Default::default()
        };
        let e = format!("{:#}", build_client(&missing_ca, 4, t).unwrap_err());
        assert!(
            e.contains("reading CA certificate /nonexistent/ca.pem"),
            "{e}"
        );
        build_client(&TlsFiles::default(), 4, t).unwrap();
    }

    #[test]
    fn client_accepts_a_ca_and_an_identity() {
        let dir = tempfile::tempdir().unwrap();
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        std::fs::write(&cert, ck.cert.pem()).unwrap();
        std::fs::write(&key, ck.key_pair.serialize_pem()).unwrap();
        let tls = TlsFiles {
            ca: Some(cert.clone()),
            cert: Some(cert),
            key: Some(key.clone()),
        };
        build_client(&tls, 4, Duration::from_secs(5)).unwrap();
        let bad = TlsFiles {
            ca: Some(key),
            ..Default::default()
        };
        let e = format!(
            "{:#}",
            build_client(&bad, 4, Duration::from_secs(5)).unwrap_err()
        );
        assert!(
            e.contains("no certificate in the file") || e.contains("not a PEM"),
            "{e}"
        );
    }
}

//! The command line, run as the real binary.

use std::process::{Command, Output};

use crate::messages::write_refdata;

fn run(args: &[&str], cwd: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nsw-gateway"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .output()
        .expect("the binary runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn refdata_check_accepts_good_files_and_names_the_row_and_column_of_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_refdata(&data);
    let ok = run(&["refdata", "check", data.to_str().unwrap()], dir.path());
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(text(&ok).contains("licences: 2"), "{}", text(&ok));

    let licences = data.join("licences.csv");
    let mut csv = std::fs::read_to_string(&licences).unwrap();
    csv = csv.replacen("2099-12-31,ACTIVE", "2099-13-31,ACTIVE", 1);
    std::fs::write(&licences, csv).unwrap();
    let bad = run(&["refdata", "check", data.to_str().unwrap()], dir.path());
    assert!(!bad.status.success());
    let out = text(&bad);
    assert!(
        out.contains("licences.csv") && out.contains("row 2") && out.contains("expires_on"),
        "{out}"
    );
}

#[test]
fn migrate_then_refdata_load_into_a_new_database() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_refdata(&data);
    let url = format!("sqlite://{}", dir.path().join("db/gw.db").display());
    let migrate = run(&["migrate", "--database", &url], dir.path());
    assert!(migrate.status.success(), "{}", text(&migrate));
    let load = run(
        &[
            "refdata",
            "load",
            data.to_str().unwrap(),
            "--database",
            &url,
        ],
        dir.path(),
    );
    assert!(load.status.success(), "{}", text(&load));
    assert!(text(&load).contains("standards: 1"), "{}", text(&load));
    // What was loaded is in the database file, not left in a WAL for the gateway to copy.
    let wal = std::fs::metadata(dir.path().join("db/gw.db-wal")).map_or(0, |m| m.len());
    assert_eq!(wal, 0, "the WAL is truncated at the end of the command");
    // A bad directory loads nothing and says why.
    let missing = run(
        &["refdata", "load", "/nonexistent", "--database", &url],
        dir.path(),
    );
    assert!(!missing.status.success());
}

/// The commands that look at what a gateway stored refuse a database that does not exist
/// (a typing error) instead of creating an empty one that has nothing to show.
#[test]
fn inspecting_commands_do_not_create_a_missing_database() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("typo.db");
    let url = format!("sqlite://{}", typo.display());
    for args in [&["outbox", "list"][..], &["check-db"], &["apikey", "list"]] {
        let mut args = args.to_vec();
        args.extend(["--database", &url]);
        let o = run(&args, dir.path());
        assert!(!o.status.success(), "{args:?}: {}", text(&o));
        assert!(
            text(&o).contains("database.url: there is no database at"),
            "{args:?}: {}",
            text(&o)
        );
        assert!(!typo.exists(), "{args:?} created it");
    }
    // Once created, they open it.
    assert!(run(&["migrate", "--database", &url], dir.path())
        .status
        .success());
    let o = run(&["outbox", "list", "--database", &url], dir.path());
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn logs_go_to_standard_error_and_standard_output_keeps_what_a_command_prints() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_refdata(&data);
    let url = format!("sqlite://{}", dir.path().join("gw.db").display());
    let o = Command::new(env!("CARGO_BIN_EXE_nsw-gateway"))
        .args([
            "refdata",
            "load",
            data.to_str().unwrap(),
            "--database",
            &url,
        ])
        .env("RUST_LOG", "debug")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert!(out.starts_with("loaded "), "{out}");
    assert!(out.contains("standards: 1"), "{out}");
    assert!(
        !out.contains(" DEBUG ") && !out.contains(" INFO "),
        "log lines on standard output:\n{out}"
    );
    assert!(
        err.contains(" DEBUG "),
        "no log lines on standard error:\n{err}"
    );
}

#[test]
fn invalid_settings_stop_start_up_with_the_setting_named() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(&["serve", "--listen", "0.0.0.0:0"], dir.path());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("server.listen"), "{}", text(&o));
}

#[test]
fn certs_dev_writes_files_and_prints_the_client_fingerprint() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(&["certs", "dev", "pki"], dir.path());
    assert!(o.status.success(), "{}", text(&o));
    for f in [
        "ca.pem",
        "server.pem",
        "server-key.pem",
        "client.pem",
        "client-key.pem",
    ] {
        assert!(dir.path().join("pki").join(f).is_file(), "{f}");
    }
    let out = text(&o);
    let line = out
        .lines()
        .find(|l| l.starts_with("client certificate SHA-256:"))
        .expect("fingerprint line");
    let fp = line.rsplit(' ').next().unwrap();
    assert!(nsw_gateway::config::parse_fingerprint(fp).is_ok(), "{fp}");
}

/// The real binary with TLS: SIGHUP swaps the certificate for new connections, SIGTERM stops
/// it cleanly. Progress is read from its JSON log, not guessed with sleeps.
#[tokio::test]
async fn serve_reloads_certificates_on_sighup_and_stops_on_sigterm() {
    use tokio::io::{AsyncBufReadExt, BufReader};

    nsw_gateway::http::tls::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let first = nsw_gateway::certs::write_dev_certs(&dir.path().join("first")).unwrap();
    let second = nsw_gateway::certs::write_dev_certs(&dir.path().join("second")).unwrap();
    let live = dir.path().join("live");
    std::fs::create_dir_all(&live).unwrap();
    let install = |from: &nsw_gateway::certs::DevCertificates| {
        std::fs::copy(&from.server_cert, live.join("server.pem")).unwrap();
        std::fs::copy(&from.server_key, live.join("server-key.pem")).unwrap();
    };
    install(&first);
    // Clients from either CA are accepted; the client presents the first set's certificate.
    let bundle = format!(
        "{}{}",
        std::fs::read_to_string(&first.ca_cert).unwrap(),
        std::fs::read_to_string(&second.ca_cert).unwrap()
    );
    std::fs::write(live.join("client-ca.pem"), &bundle).unwrap();
    write_refdata(&dir.path().join("refdata"));
    let config = dir.path().join("gw.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[server]
listen = "127.0.0.1:0"
[admin]
listen = "127.0.0.1:0"
[api]
listen = "127.0.0.1:0"
[database]
url = "sqlite://{db}"
[tls]
cert = "{live}/server.pem"
key = "{live}/server-key.pem"
client_ca = "{live}/client-ca.pem"
reload_interval_secs = 3600
[[partners]]
party_id = "NSW"
cpa_id = "NSW-TISI-PERMIT"
cert_sha256 = "{fp}"
delivery_url = "https://127.0.0.1:9/ebms"
[refdata]
seed_dir = "{refdata}"
[log]
format = "json"
"#,
            db = dir.path().join("gw.db").display(),
            live = live.display(),
            fp = first.client_sha256,
            refdata = dir.path().join("refdata").display(),
        ),
    )
    .unwrap();

    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_nsw-gateway"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .env("RUST_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = child.id().unwrap().to_string();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    // Reads log lines until one has this message; returns its fields.
    let mut wait_for = async |message: &str| -> serde_json::Value {
        while let Some(line) = lines.next_line().await.unwrap() {
            let v: serde_json::Value = match serde_json::from_str(&line) {
                Ok(v) => v,
                Err(_) => continue,
            };
            if v["fields"]["message"] == message {
                return v["fields"].clone();
            }
        }
        panic!("the gateway ended before logging {message:?}");
    };
    let port = wait_for("listening").await["port"].as_u64().unwrap();

    let roots = |pem: &str| reqwest::Certificate::from_pem_bundle(pem.as_bytes()).unwrap();
    let client_identity = format!(
        "{}{}",
        std::fs::read_to_string(&first.client_cert).unwrap(),
        std::fs::read_to_string(&first.client_key).unwrap()
    );
    let client = {
        let mut b = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .tls_info(true)
            .pool_max_idle_per_host(0)
            .identity(reqwest::Identity::from_pem(client_identity.as_bytes()).unwrap());
        for c in roots(&bundle) {
            b = b.add_root_certificate(c);
        }
        b.build().unwrap()
    };
    let served = |r: &reqwest::Response| {
        r.extensions()
            .get::<reqwest::tls::TlsInfo>()
            .and_then(|i| i.peer_certificate())
            .map(nsw_gateway::http::tls::PeerIdentity::from_der)
            .unwrap()
            .fingerprint_hex()
    };
    let fingerprint_of = |path: &std::path::Path| {
        let pem = std::fs::read(path).unwrap();
        let der = rustls_pemfile::certs(&mut pem.as_slice())
            .next()
            .unwrap()
            .unwrap();
        nsw_gateway::http::tls::PeerIdentity::from_der(&der).fingerprint_hex()
    };
    let url = format!("https://localhost:{port}/ebms");
    let r = client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(served(&r), fingerprint_of(&first.server_cert));

    install(&second);
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap();
    assert!(hup.success());
    wait_for("TLS certificates reloaded").await;
    let r = client.get(&url).send().await.unwrap();
    assert_eq!(served(&r), fingerprint_of(&second.server_cert));

    let term = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(term.success());
    wait_for("stopped").await;
    let status = child.wait().await.unwrap();
    assert!(status.success(), "{status:?}");
}

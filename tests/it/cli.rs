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
    // A bad directory loads nothing and says why.
    let missing = run(
        &["refdata", "load", "/nonexistent", "--database", &url],
        dir.path(),
    );
    assert!(!missing.status.success());
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

//! API keys: `{id}.{secret}` where `id` is a short public id (12 hex digits) and `secret` is
//! 32 random bytes in unpadded base64url. Only the SHA-256 of the whole key is stored; the key
//! itself is shown once, when it is created.

use std::process::ExitCode;

use base64::Engine as _;
use clap::Subcommand;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::domain::{Branch, PartyKey, TaxNumber};
use crate::store::api::{api_key_target, ApiKeyRecord, NewApiKey, Revocation};
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub enum ApikeyCommand {
    /// Create a key and print it (once). An importer's key names the importer's branches; a
    /// broker's key names the broker and every importer it acts for.
    Create {
        /// An importer the key may see, as TAXNUMBER/BRANCH (e.g. 0105536112014/00000).
        #[arg(long = "importer", value_name = "TAX/BRANCH", required = true)]
        importers: Vec<String>,
        /// The broker the key is issued to.
        #[arg(long, value_name = "NAME")]
        broker: Option<String>,
    },
    /// List the keys (never the keys themselves).
    List,
    /// One key (never the key itself) and who created or revoked it, when and why.
    Show { id: String },
    /// Revoke a key by its public id; it is refused from then on.
    Revoke {
        id: String,
        /// Why, for the audit log.
        #[arg(long, default_value = "")]
        reason: String,
    },
}

/// Who runs a command of the command line, for the audit log: `cli:` and the login name
/// (the one `sudo` was called by, when it was; without one in the environment, the name of
/// the process's user in `/etc/passwd`, else `uid <n>`).
pub fn cli_actor() -> String {
    let named = ["SUDO_USER", "USER", "LOGNAME"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .map(|u| u.trim().to_string())
        .find(|u| !u.is_empty());
    let user = named.unwrap_or_else(|| {
        let uid = rustix::process::getuid().as_raw();
        std::fs::read_to_string("/etc/passwd")
            .ok()
            .and_then(|p| user_name(&p, uid))
            .unwrap_or_else(|| format!("uid {uid}"))
    });
    format!("cli:{user}")
}

/// The name of user `uid` in the text of `/etc/passwd`.
fn user_name(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let id = fields.nth(1)?;
        (id.parse() == Ok(uid) && !name.is_empty()).then(|| name.to_string())
    })
}

/// A freshly generated key and what is stored of it.
#[derive(Debug, Clone)]
pub struct GeneratedKey {
    pub id: String,
    /// The whole key, to hand to its holder once.
    pub key: String,
    pub key_sha256: String,
}

/// Generates a key from the operating system's random source.
pub fn generate() -> GeneratedKey {
    let mut rng = rand::rngs::OsRng;
    let mut id = [0u8; 6];
    rng.fill_bytes(&mut id);
    let mut secret = [0u8; 32];
    rng.fill_bytes(&mut secret);
    let id = hex::encode(id);
    let key = format!(
        "{id}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
    );
    GeneratedKey {
        key_sha256: hash(&key),
        id,
        key,
    }
}

/// The SHA-256 of a key, in lower-case hex.
pub fn hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// The public id of a presented key, when it has the shape of one.
pub fn public_id(key: &str) -> Option<&str> {
    let (id, secret) = key.split_once('.')?;
    let id_ok = id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit());
    let secret_ok = secret.len() == 43
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (id_ok && secret_ok).then_some(id)
}

/// Compares a presented key with a stored hash in constant time.
pub fn matches(key: &str, stored_sha256: &str) -> bool {
    let a = hash(key);
    let (a, b) = (a.as_bytes(), stored_sha256.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Parses `TAX/BRANCH`.
pub fn parse_importer(s: &str) -> Result<PartyKey, String> {
    let (tax, branch) = s
        .split_once('/')
        .ok_or_else(|| format!("--importer {s}: expected TAXNUMBER/BRANCH"))?;
    let tax_number = TaxNumber::parse(tax.trim()).map_err(|e| format!("--importer {s}: {e}"))?;
    let branch = Branch::parse(branch.trim()).map_err(|e| format!("--importer {s}: {e}"))?;
    Ok(PartyKey { tax_number, branch })
}

/// Checks the arguments of `apikey create`; every problem is reported.
pub fn check_create(
    importers: &[String],
    broker: Option<&str>,
) -> Result<Vec<PartyKey>, Vec<String>> {
    let mut errs = Vec::new();
    let mut parties = Vec::new();
    for s in importers {
        match parse_importer(s) {
            Ok(p) if !parties.contains(&p) => parties.push(p),
            Ok(_) => {}
            Err(e) => errs.push(e),
        }
    }
    if let Some(b) = broker {
        if b.trim().is_empty() {
            errs.push("--broker: must not be empty".to_string());
        }
    } else if parties
        .iter()
        .any(|p| p.tax_number != parties[0].tax_number)
    {
        errs.push(
            "--importer: an importer's key covers the branches of one tax number; give --broker \
             NAME for a key that sees several importers"
                .to_string(),
        );
    }
    if importers.is_empty() {
        errs.push("--importer: at least one is required".to_string());
    }
    if errs.is_empty() {
        Ok(parties)
    } else {
        Err(errs)
    }
}

fn describe(k: &ApiKeyRecord) -> String {
    let who = match &k.broker {
        Some(b) => format!("broker {b}"),
        None => "importer".to_string(),
    };
    let importers: Vec<String> = k.importers.iter().map(|p| p.to_string()).collect();
    let state = match k.revoked_at {
        Some(t) => format!("revoked {}", t.to_rfc3339()),
        None => "active".to_string(),
    };
    format!(
        "{}  {who}  importers {}  created {}  {state}",
        k.id,
        importers.join(","),
        k.created_at.to_rfc3339()
    )
}

/// Runs `nsw-gateway apikey …`.
pub async fn run(store: &Store, command: &ApikeyCommand) -> anyhow::Result<ExitCode> {
    match command {
        ApikeyCommand::Create { importers, broker } => {
            let parties = match check_create(importers, broker.as_deref()) {
                Ok(p) => p,
                Err(errs) => {
                    for e in errs {
                        eprintln!("{e}");
                    }
                    return Ok(ExitCode::from(2));
                }
            };
            let g = generate();
            store
                .create_api_key(NewApiKey {
                    id: g.id.clone(),
                    key_sha256: g.key_sha256.clone(),
                    broker: broker.as_ref().map(|b| b.trim().to_string()),
                    importers: parties,
                    created_at: chrono::Utc::now(),
                    actor: cli_actor(),
                })
                .await?;
            tracing::info!(key_id = %g.id, "API key created");
            println!("id:  {}", g.id);
            println!("key: {}", g.key);
            eprintln!("the key is shown only now: only its SHA-256 is stored");
            Ok(ExitCode::SUCCESS)
        }
        ApikeyCommand::List => {
            for k in store.api_keys().await? {
                println!("{}", describe(&k));
            }
            Ok(ExitCode::SUCCESS)
        }
        ApikeyCommand::Show { id } => {
            let Some(k) = store.api_key(id).await? else {
                eprintln!("no API key with id {id}");
                return Ok(ExitCode::FAILURE);
            };
            println!("{}", describe(&k));
            for a in store.audit_log(&api_key_target(id)).await? {
                let why = if a.detail.is_empty() {
                    String::new()
                } else {
                    format!("  {}", a.detail)
                };
                println!("{}  {}  {}{why}", a.at.to_rfc3339(), a.action, a.actor);
            }
            Ok(ExitCode::SUCCESS)
        }
        ApikeyCommand::Revoke { id, reason } => {
            let revocation = Revocation {
                id: id.clone(),
                at: chrono::Utc::now(),
                actor: cli_actor(),
                reason: reason.trim().to_string(),
            };
            if store.revoke_api_key(revocation).await? {
                tracing::info!(key_id = %id, "API key revoked");
                println!("revoked {id}");
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("no API key with id {id}");
                Ok(ExitCode::FAILURE)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_from_passwd() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\n\
                      daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
                      somchai:x:1000:1000:Somchai,,,:/home/somchai:/bin/bash\n\
                      broken\n";
        let check = |uid: u32, expected: Option<&str>| {
            assert_eq!(user_name(passwd, uid).as_deref(), expected, "uid {uid}")
        };
        check(0, Some("root"));
        check(1000, Some("somchai"));
        check(1, Some("daemon"));
        check(2, None);
        check(1001, None);
    }

    fn check(key: &str, expected: Option<&str>) {
        assert_eq!(public_id(key), expected, "{key}");
    }

    #[test]
    fn public_ids() {
        let g = generate();
        check(&g.key, Some(g.id.as_str()));
        check("", None);
        check("abc", None);
        check("0123456789ab.short", None);
        check(
            &format!("0123456789ab.{}", "A".repeat(43)),
            Some("0123456789ab"),
        );
        check(&format!("0123456789zz.{}", "A".repeat(43)), None);
        check(&format!("0123456789ab.{}", "+".repeat(43)), None);
    }

    #[test]
    fn keys_match_only_their_hash() {
        let g = generate();
        assert!(matches(&g.key, &g.key_sha256));
        assert!(!matches(&generate().key, &g.key_sha256));
        assert_ne!(generate().key, g.key);
    }

    fn check_args(importers: &[&str], broker: Option<&str>, expected: Result<usize, &[&str]>) {
        let v: Vec<String> = importers.iter().map(|s| s.to_string()).collect();
        match (check_create(&v, broker), expected) {
            (Ok(p), Ok(n)) => assert_eq!(p.len(), n),
            (Err(e), Err(want)) => {
                for w in want {
                    assert!(e.iter().any(|x| x.contains(w)), "{e:?} lacks {w}");
                }
            }
            (got, want) => panic!("{importers:?}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn create_arguments() {
        check_args(&["0105536112014/00000"], None, Ok(1));
        check_args(&["0105536112014/00000", "0105536112014/00001"], None, Ok(2));
        check_args(&["0105536112014/00000", "0105536112014/00000"], None, Ok(1));
        check_args(
            &["0105536112014/00000", "0994000617721/00000"],
            Some("Broker A"),
            Ok(2),
        );
        check_args(
            &["0105536112014/00000", "0994000617721/00000"],
            None,
            Err(&["--broker"]),
        );
        check_args(
            &["0105536112015/00000", "x"],
            None,
            Err(&["0105536112015", "--importer x"]),
        );
        check_args(&[], Some(" "), Err(&["--broker", "at least one"]));
    }
}

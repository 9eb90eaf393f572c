//! `scheduler token create|list|revoke`: tokens are printed once and only
//! their SHA-256 is stored.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use super::{EXIT_INVALID, TokenAction};
use crate::auth::{TokenKind, generate_token, token_sha256};
use crate::config::{Config, is_valid_name};
use crate::store::Tx;
use crate::store::audit::AuditEntry;
use crate::store::tokens::TokenRow;

/// The actor of what `scheduler token` does in the audit log.
const COMMAND_LINE: &str = "command line";

pub(super) fn token(config: &Config, action: TokenAction) -> ExitCode {
    let result = match action {
        TokenAction::Create {
            name,
            region,
            operator,
            viewer,
            print_config,
            token_file,
        } => {
            // clap keeps the flags exclusive; region only for probes.
            let kind = match (operator, viewer) {
                (true, _) => TokenKind::Operator,
                (_, true) => TokenKind::Viewer,
                _ => TokenKind::Probe,
            };
            create(
                config,
                &name,
                region.as_deref(),
                kind,
                print_config,
                token_file.as_deref(),
            )
        }
        TokenAction::List { name } => list(config, name.as_deref()),
        TokenAction::Revoke { name } => revoke(config, &name),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[expect(
    clippy::disallowed_methods,
    reason = "a one-off command: a token's times are when the command runs"
)]
fn open_store(config: &Config) -> anyhow::Result<Box<dyn Tx>> {
    Ok(crate::store::open_direct_configured(
        config,
        chrono::Utc::now().timestamp_millis(),
    )?)
}

#[expect(
    clippy::disallowed_methods,
    reason = "a one-off command: a token's times are when the command runs"
)]
fn create(
    config: &Config,
    name: &str,
    region: Option<&str>,
    kind: TokenKind,
    print_config: bool,
    token_file: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    for value in std::iter::once(name).chain(region) {
        if !is_valid_name(value) {
            eprintln!(
                "error: invalid name `{value}`: expected lowercase letters, digits, `_`, `.` or `-` (at most 63, starting with a letter or digit)"
            );
            return Ok(ExitCode::from(EXIT_INVALID));
        }
    }
    let token = generate_token()?;
    let hash = token_sha256(&token);
    if print_config {
        let region = region.unwrap_or_default();
        println!("[[probe]]\nname = \"{name}\"\nregion = \"{region}\"\ntoken_sha256 = \"{hash}\"");
        match token_file {
            Some(path) => write_secret(path, &token)?,
            None => eprintln!("token (shown once; give it to probe `{name}`): {token}"),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let conn = open_store(config)?;
    let row = TokenRow {
        id: uuid::Uuid::now_v7().to_string(),
        name: name.to_owned(),
        region: if kind == TokenKind::Probe {
            region.map(str::to_owned)
        } else {
            None
        },
        kind: kind.as_str().to_owned(),
        sha256: hash,
        created_at: chrono::Utc::now().timestamp_millis(),
        revoked_at: None,
    };
    conn.insert_token(&row)?;
    conn.record_audit(&AuditEntry {
        at: chrono::Utc::now(),
        actor: COMMAND_LINE.to_owned(),
        action: "token.create".to_owned(),
        target: name.to_owned(),
        detail: Some(row.kind.clone()),
    })?;
    drop(conn);
    let mut out = std::io::stdout().lock();
    writeln!(out, "{token}")?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn write_secret(path: &Path, token: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    writeln!(file, "{token}")?;
    Ok(())
}

fn list(config: &Config, name: Option<&str>) -> anyhow::Result<ExitCode> {
    let conn = open_store(config)?;
    let time = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .map_or_else(String::new, |t| scenarios::wire::time::format(&t))
    };
    println!(
        "{:<36}  {:<8}  {:<24}  {:<16}  {:<10}  {:<24}  REVOKED",
        "ID", "KIND", "NAME", "REGION", "SHA256", "CREATED"
    );
    for t in conn.tokens(name)? {
        println!(
            "{:<36}  {:<8}  {:<24}  {:<16}  {:<10}  {:<24}  {}",
            t.id,
            t.kind,
            t.name,
            t.region.as_deref().unwrap_or("-"),
            t.sha256.get(..8).unwrap_or_default(),
            time(t.created_at),
            t.revoked_at.map_or_else(|| "-".to_owned(), time)
        );
    }
    for p in config
        .probes
        .iter()
        .filter(|p| name.is_none_or(|n| n == p.name))
    {
        println!(
            "{:<36}  {:<8}  {:<24}  {:<16}  {:<10}  {:<24}  -",
            "(scheduler.toml)",
            "probe",
            p.name,
            p.region,
            p.token_sha256.get(..8).unwrap_or_default(),
            "-"
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[expect(
    clippy::disallowed_methods,
    reason = "a one-off command: a token's times are when the command runs"
)]
fn revoke(config: &Config, name: &str) -> anyhow::Result<ExitCode> {
    let conn = open_store(config)?;
    let now = chrono::Utc::now();
    let revoked = conn.revoke_tokens(name, now.timestamp_millis())?;
    eprintln!("revoked {revoked} token(s) of `{name}`");
    if revoked > 0 {
        conn.record_audit(&AuditEntry {
            at: now,
            actor: COMMAND_LINE.to_owned(),
            action: "token.revoke".to_owned(),
            target: name.to_owned(),
            detail: Some(format!("{revoked} token(s)")),
        })?;
    }
    if config.probes.iter().any(|p| p.name == name) {
        eprintln!(
            "note: `{name}` also has a [[probe]] entry in the configuration; remove it there"
        );
    }
    if revoked == 0 {
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

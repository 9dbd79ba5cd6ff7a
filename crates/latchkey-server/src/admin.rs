//! `latchkey-server admin <command>`: the operator's commands, on the service's own database with
//! its own settings (the same environment). `--json` for scripts; otherwise a table.

use latchkey_core::auth::admin;
use latchkey_core::error::Error;
use latchkey_core::mail::Mailer;
use latchkey_core::store::{self, AdminAction, AdminUserRow, Store};

use crate::{Database, Settings};

pub const USAGE: &str = "usage: latchkey-server admin <command> [--json]
  users [--search TEXT] [--limit N] [--after CURSOR]   accounts whose username or email starts with TEXT
  show NAME                                           one account (NAME: a username or an email address)
  deactivate NAME | reactivate NAME                   sign-in off (every session ends) or on again
  grant-admin NAME | revoke-admin NAME
  unlock NAME                                         clear the login throttle, the lock for good included
  revoke-sessions NAME                                sign out every device
  require-reset NAME                                  sign out every device; sign-in needs an emailed reset first
  reset-second-factor NAME                            turn two-step sign-in off (lost app and recovery codes)";

/// What the operator asked for.
#[derive(Debug, PartialEq, Eq)]
enum Command {
    Users { search: String, limit: i64, after: i64 },
    Show(String),
    Act(AdminAction, String),
}

fn parse(args: &[String]) -> Result<(Command, bool), String> {
    let json = args.iter().any(|a| a == "--json");
    let mut rest = args.iter().filter(|a| *a != "--json");
    let name = rest.next().ok_or("no command")?;
    let mut value =
        |flag: &str| -> Result<String, String> { rest.next().cloned().ok_or(format!("{flag} needs a value")) };
    let command = match name.as_str() {
        "users" => {
            let (mut search, mut limit, mut after) = (String::new(), 50, 0);
            while let Ok(flag) = value("a flag") {
                match flag.as_str() {
                    "--search" => search = value("--search")?,
                    "--limit" => limit = value("--limit")?.parse().map_err(|_| "--limit needs a number")?,
                    "--after" => after = value("--after")?.parse().map_err(|_| "--after needs a cursor (an id)")?,
                    other => return Err(format!("unknown flag {other}")),
                }
            }
            Command::Users { search, limit, after }
        }
        "show" => Command::Show(value("show")?),
        action => {
            let action = AdminAction::named(action).ok_or(format!("unknown command {action}"))?;
            Command::Act(action, value(name)?)
        }
    };
    if let Some(extra) = rest.next() {
        return Err(format!("unexpected {extra}"));
    }
    Ok((command, json))
}

/// Runs the command; the process's exit status: 0 done, 1 refused (an unknown account, a broken
/// setting), 2 a command line that does not parse.
pub async fn run(args: &[String]) -> i32 {
    let (command, json) = match parse(args) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("latchkey-server admin: {e}\n{USAGE}");
            return 2;
        }
    };
    match open_and_run(command, json).await {
        Ok(out) => {
            println!("{out}");
            0
        }
        Err(e) => {
            eprintln!("latchkey-server admin: {e}");
            1
        }
    }
}

async fn open_and_run(command: Command, json: bool) -> Result<String, String> {
    let settings = Settings::load().map_err(|e| format!("settings: {e}"))?;
    let mailer = crate::mailer(&settings)?;
    match settings.database.clone() {
        Database::Sqlite(path) => {
            let pool = store::open(&path).await.map_err(|e| format!("database {}: {e}", path.display()))?;
            on(&pool, &mailer, command, json).await
        }
        Database::Postgres(url) => {
            let pool = store::postgres::open(&url).await.map_err(|e| format!("database (PostgreSQL): {e}"))?;
            on(&pool, &mailer, command, json).await
        }
    }
}

/// Who runs the command, for the account's activity: the login name, or the user id when the
/// environment names nobody (a service manager's shell).
fn operator() -> String {
    let named = ["SUDO_USER", "USER", "LOGNAME"].iter().find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()));
    #[cfg(unix)]
    let fallback = || {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata("/proc/self").map_or_else(|_| "unknown".to_string(), |m| format!("uid {}", m.uid()))
    };
    #[cfg(not(unix))]
    let fallback = || "unknown".to_string();
    named.unwrap_or_else(fallback)
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

async fn on(pool: &impl Store, mailer: &Mailer, command: Command, json: bool) -> Result<String, String> {
    let said = |e: Error| match e {
        Error::NoSuchAccount => "no account has that username or email address".to_string(),
        other => other.to_string(),
    };
    match command {
        Command::Users { search, limit, after } => {
            let page = admin::search(pool, &search, after, limit, now()).await.map_err(said)?;
            if json {
                return Ok(serde_json::json!(page).to_string());
            }
            let mut out = table(&page.accounts);
            if let Some(next) = page.next {
                out.push_str(&format!("\nmore: --after {next}"));
            }
            Ok(out)
        }
        Command::Show(name) => {
            let row = admin::show(pool, &name, now()).await.map_err(said)?;
            Ok(if json { serde_json::json!(row).to_string() } else { table(std::slice::from_ref(&row)) })
        }
        Command::Act(action, name) => {
            let operator = operator();
            let (row, notice_sent) = admin::act(pool, mailer, &name, action, &operator, now()).await.map_err(said)?;
            if json {
                return Ok(serde_json::json!({"account": row, "notice_sent": notice_sent}).to_string());
            }
            let notice = if notice_sent { "the account's holder was mailed" } else { "the notice could NOT be mailed" };
            Ok(format!("{}\ndone by {operator}; {notice}", table(std::slice::from_ref(&row))))
        }
    }
}

fn table(rows: &[AdminUserRow]) -> String {
    let yes = |b: bool| if b { "yes" } else { "no" };
    let joined =
        |t: i64| cookie::time::OffsetDateTime::from_unix_timestamp(t).map(|d| d.date().to_string()).unwrap_or_default();
    let mut lines = vec![format!(
        "{:>8}  {:<20}  {:<32}  {:<6}  {:<5}  {:<4}  {:>8}  {:<10}",
        "id", "username", "email", "active", "admin", "2fa", "sessions", "joined"
    )];
    for r in rows {
        lines.push(format!(
            "{:>8}  {:<20}  {:<32}  {:<6}  {:<5}  {:<4}  {:>8}  {:<10}",
            r.id,
            r.username,
            r.email,
            yes(r.is_active),
            yes(r.is_admin),
            yes(r.second_factor),
            r.sessions,
            joined(r.date_joined)
        ));
    }
    if rows.is_empty() {
        lines.push("(no accounts)".into());
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn command_lines_parse_or_say_what_is_wrong() {
        assert_eq!(
            parse(&args("users --search an --limit 5 --after 9 --json")).unwrap(),
            (Command::Users { search: "an".into(), limit: 5, after: 9 }, true)
        );
        assert_eq!(parse(&args("show ann")).unwrap(), (Command::Show("ann".into()), false));
        assert_eq!(parse(&args("unlock a@x.io")).unwrap(), (Command::Act(AdminAction::Unlock, "a@x.io".into()), false));
        for (line, says) in [
            ("", "no command"),
            ("explode ann", "unknown command"),
            ("show", "needs a value"),
            ("users --limit many", "--limit"),
            ("show ann bob", "unexpected"),
        ] {
            assert!(parse(&args(line)).unwrap_err().contains(says), "{line}");
        }
    }
}

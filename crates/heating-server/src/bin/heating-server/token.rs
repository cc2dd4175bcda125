//! `heating-server token create|list|revoke`: API tokens from the command line, on the database of
//! `DATABASE_URL` (migrated first), through the same services as `/tokens`, acting as the admin `cli`.

use anyhow::Context;
use heating_server::Config;
use heating_server::domain::{Caller, Role};
use heating_server::services::tokens::{self, TokenRequest};
use heating_server::storage::ApiToken;

/// Options of `heating-server token`.
#[derive(Debug, Clone, clap::Args)]
pub struct TokenArgs {
    #[command(subcommand)]
    pub action: TokenAction,
}

/// What to do with tokens.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum TokenAction {
    /// Create a token and print it (alone, on stdout). It is shown this once: only its hash is stored.
    Create {
        /// Unique name, e.g. `hall-tablet` (letters, digits, `-`, `_`, `.`, `@`).
        #[arg(long)]
        name: String,
        /// viewer (reads), operator (also targets, holds, commands), or admin (also zones, tokens, audit).
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Days until it expires, 1 to 3650 (default: never).
        #[arg(long)]
        expires_days: Option<u32>,
    },
    /// List the tokens (never the tokens themselves).
    List,
    /// Revoke a token, by name or id: it is refused from the next request on.
    Revoke {
        /// The token's name or id.
        name_or_id: String,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
}

fn time(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map_or_else(|| "-".to_string(), heating_server::time::rfc3339)
}

fn status(t: &ApiToken, now: chrono::DateTime<chrono::Utc>) -> &'static str {
    if t.revoked_at.is_some() {
        "revoked"
    } else if !t.is_active(now) {
        "expired"
    } else {
        "active"
    }
}

/// Runs the token command.
pub async fn run(config: Config, args: TokenArgs) -> anyhow::Result<()> {
    let app = heating_server::build(config).await?;
    let state = app.state();
    let cli = Caller::system("cli");
    match args.action {
        TokenAction::Create { name, role, expires_days } => {
            let request = TokenRequest { name, role, expires_in_days: expires_days };
            let issued = tokens::create(state, &cli, request).await.context("cannot create the token")?;
            eprintln!(
                "token {:?} ({}) created; it is shown only this once, below: store it now (send it as \
                 `Authorization: Bearer <token>`)",
                issued.token.name, issued.token.role
            );
            println!("{}", issued.secret.expose());
        }
        TokenAction::List => {
            let list = tokens::list(state, &cli, heating_server::domain::Page::first(1000)).await?;
            let now = state.clock.now();
            println!(
                "{:>4}  {:<24} {:<8} {:<8} {:<8} {:<24} {:<24} {:<24}",
                "id", "name", "role", "prefix", "status", "created", "last used", "expires"
            );
            for t in &list {
                println!(
                    "{:>4}  {:<24} {:<8} {:<8} {:<8} {:<24} {:<24} {:<24}",
                    t.id,
                    t.name,
                    t.role.as_str(),
                    t.prefix,
                    status(t, now),
                    time(Some(t.created_at)),
                    time(t.last_used_at),
                    time(t.expires_at)
                );
            }
        }
        TokenAction::Revoke { name_or_id } => {
            let token = tokens::find(state, &cli, &name_or_id).await?;
            let token = tokens::revoke(state, &cli, token.id).await?;
            eprintln!("token {:?} (id {}) revoked", token.name, token.id);
        }
    }
    state.storage.close().await;
    Ok(())
}

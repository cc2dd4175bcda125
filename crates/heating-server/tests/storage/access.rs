//! API tokens and the audit log on both backends, and the access migration applied to a database holding data of
//! the schema before it.

use heating_server::domain::{Role, TokenName};
use heating_server::storage::{NewAuditEntry, NewToken};
use sqlx::migrate::Migrator;

use super::*;

/// The first migration of access (tokens, audit log, commands' actor).
const ACCESS_MIGRATION: i64 = 20261201000001;

fn new_token(name: &str, hash: &str, expires: Option<i64>) -> NewToken {
    NewToken {
        name: TokenName::parse(name).unwrap(),
        role: Role::Operator,
        token_hash: hash.into(),
        prefix: "hst_abcd".into(),
        created_at: at(0),
        expires_at: expires.map(at),
    }
}

pub(super) async fn tokens_and_audit(s: &Storage) {
    let a = s.create_token(&new_token("tablet", "hash-a", None)).await.unwrap();
    let b = s.create_token(&new_token("laptop", "hash-b", Some(86_400_000))).await.unwrap();
    assert_eq!((a.name.as_str(), a.role, a.prefix.as_str()), ("tablet", Role::Operator, "hst_abcd"));
    assert_eq!((a.created_at, a.last_used_at, a.expires_at, a.revoked_at), (at(0), None, None, None));
    assert_eq!(b.expires_at, Some(at(86_400_000)));
    assert!(b.is_active(at(86_399_999)) && !b.is_active(at(86_400_000)));
    assert_conflict(
        s.create_token(&new_token("tablet", "hash-c", None)).await,
        "a token named \"tablet\" already exists",
    );
    assert_eq!(s.token_by_hash("hash-b").await.unwrap(), Some(b.clone()));
    assert_eq!(s.token_by_hash("hash-x").await.unwrap(), None);
    assert_eq!(s.token_by_name("tablet").await.unwrap(), Some(a.clone()));
    assert_eq!(s.get_token(b.id).await.unwrap(), Some(b.clone()));
    s.touch_token(a.id, at(5_000)).await.unwrap();
    let revoked = s.revoke_token(a.id, at(9_000)).await.unwrap();
    assert_eq!((revoked.last_used_at, revoked.revoked_at), (Some(at(5_000)), Some(at(9_000))));
    assert!(!revoked.is_active(at(9_000)));
    let again = s.revoke_token(a.id, at(12_000)).await.unwrap();
    assert_eq!(again.revoked_at, Some(at(9_000)), "the first revocation stays");
    assert_not_found(s.revoke_token(9_999, at(0)).await, "token");
    let listed = s.list_tokens(page(0, 10)).await.unwrap();
    assert_eq!(listed, vec![again, b.clone()], "by id, revoked ones included");
    assert_eq!(s.list_tokens(page(1, 10)).await.unwrap(), vec![b]);

    let entry = |ms, zone_id, action: &str| NewAuditEntry {
        ts: at(ms),
        actor: "tablet".into(),
        action: action.into(),
        zone_id,
        details: json!({"n": ms}),
    };
    let first = s.insert_audit(&entry(1_000, Some(7), "zone.create")).await.unwrap();
    assert_eq!((first.actor.as_str(), first.details.clone(), first.zone_id), ("tablet", json!({"n": 1_000}), Some(7)));
    s.insert_audit(&entry(3_000, None, "token.create")).await.unwrap();
    s.insert_audit(&entry(2_000, Some(7), "zone.update")).await.unwrap();
    s.insert_audit(&entry(3_000, Some(8), "hold.set")).await.unwrap();
    let actions =
        |list: Vec<heating_server::storage::AuditEntry>| list.into_iter().map(|e| e.action).collect::<Vec<_>>();
    assert_eq!(
        actions(s.list_audit(None, page(0, 10)).await.unwrap()),
        ["hold.set", "token.create", "zone.update", "zone.create"],
        "newest first, then by id"
    );
    assert_eq!(actions(s.list_audit(Some(7), page(0, 10)).await.unwrap()), ["zone.update", "zone.create"]);
    assert_eq!(actions(s.list_audit(Some(7), page(1, 1)).await.unwrap()), ["zone.create"]);
    assert!(s.list_audit(Some(99), page(0, 10)).await.unwrap().is_empty());
}

/// The migrations before access, from the backend's folder.
async fn migrations_before_access(backend: &str) -> Migrator {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations").join(backend);
    let all = Migrator::new(dir).await.unwrap();
    Migrator::with_migrations(all.iter().filter(|m| m.version < ACCESS_MIGRATION).cloned().collect())
}

/// What the data of the earlier schema looks like after the upgrade: commands have actors, tokens and the audit
/// log work.
async fn upgraded(s: &Storage, zone_id: i64) {
    let commands = s.list_zone_commands(zone_id, page(0, 10)).await.unwrap();
    let actors: Vec<(CommandSource, &str)> = commands.iter().map(|c| (c.source, c.actor.as_str())).collect();
    assert_eq!(actors, [(CommandSource::Manual, "unknown"), (CommandSource::Control, "control")]);
    let mut fresh = command(zone_id, 9_000, 20.0, CommandSource::Api);
    fresh.actor = "tablet".into();
    assert_eq!(s.insert_command(&fresh).await.unwrap().actor, "tablet");
    tokens_and_audit(s).await;
}

#[tokio::test]
async fn sqlite_upgrades_a_database_of_the_earlier_schema() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("old.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    migrations_before_access("sqlite").await.run(&pool).await.unwrap();
    sqlx::query("INSERT INTO zones (id, name, created_ms, updated_ms) VALUES (1, 'Old', 0, 0)")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO commands (zone_id, ts_ms, target_temp, source, status) VALUES \
         (1, 1000, 21.0, 'control', 'confirmed'), (1, 2000, 22.0, 'manual', 'confirmed')",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let storage = Storage::connect(&url).await.unwrap();
    upgraded(&storage, 1).await;
    storage.close().await;
}

#[tokio::test]
async fn postgres_upgrades_a_database_of_the_earlier_schema() {
    PgTestDatabase::run(|url| async move {
        let pool = PgPoolOptions::new().max_connections(1).connect(&url).await.unwrap();
        migrations_before_access("postgres").await.run(&pool).await.unwrap();
        let (id,): (i64,) =
            sqlx::query_as("INSERT INTO zones (name, created_ms, updated_ms) VALUES ('Old', 0, 0) RETURNING id")
                .fetch_one(&pool)
                .await
                .unwrap();
        sqlx::query(
            "INSERT INTO commands (zone_id, ts_ms, target_temp, source, status) VALUES \
             ($1, 1000, 21.0, 'control', 'confirmed'), ($1, 2000, 22.0, 'manual', 'confirmed')",
        )
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
        let storage = Storage::connect(&url).await.unwrap();
        upgraded(&storage, id).await;
        storage.close().await;
    })
    .await;
}

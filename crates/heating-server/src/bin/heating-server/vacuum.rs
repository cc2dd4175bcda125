//! `heating-server vacuum`: switches an SQLite file made by an older version to incremental auto-vacuum, which the
//! retention job does itself only for small files (`jobs::maintenance::SWITCH_MAX_BYTES`): the one `VACUUM` rewrites
//! the file and holds every writer meanwhile, so it runs here, with the server stopped (its lock is taken first).

use std::time::{Duration, Instant};

use anyhow::Context;
use heating_server::Config;
use heating_server::storage::Storage;

pub async fn run(config: Config) -> anyhow::Result<()> {
    let url = &config.database_url;
    let Some(_lock) = heating_server::app::lock_sqlite_database(url)? else {
        if url.starts_with("postgres") {
            println!("PostgreSQL: nothing to do (its autovacuum makes deleted rows' space reusable)");
            return Ok(());
        }
        anyhow::bail!("vacuum needs an SQLite database file in DATABASE_URL");
    };
    let storage = Storage::connect(url).await.context("cannot open the database")?;
    let before = storage.database_size_bytes().await?;
    let started = Instant::now();
    let reclaimed = storage.reclaim_space(i64::MAX, 1024, Duration::ZERO, i64::MAX).await?;
    let after = storage.database_size_bytes().await?;
    storage.close().await;
    let r = reclaimed.context("the database gave no vacuum report")?;
    let mib = |b: i64| b as f64 / f64::from(1 << 20);
    let what = if r.converted { "switched to incremental auto-vacuum" } else { "already in incremental auto-vacuum" };
    println!("{what}; {:.1} MiB -> {:.1} MiB in {:.2} s", mib(before), mib(after), started.elapsed().as_secs_f64());
    Ok(())
}

//! The data lifecycle's storage side on both backends: expired rows deleted in bounded batches and never one at or
//! after the cutoff, pending commands kept, keyset pages for the export, the database check and bytes per table;
//! and on SQLite, space given back to the file system (an older file switched to incremental auto-vacuum once).

use std::time::Duration as StdDuration;

use heating_server::storage::{CommandStatus, NewAuditEntry, Reclaimed, Resolution, Retained, TABLES};

use super::*;

/// Ten days after [`at`]`(0)`: far from the other steps' rows.
const BASE: i64 = 10 * 86_400_000;

pub(super) async fn retention_and_export(s: &Storage) {
    let a = s.create_zone(&fields("Retained A", Some(6301)), at(0)).await.unwrap();
    let b = s.create_zone(&fields("Retained B", Some(6302)), at(0)).await.unwrap();
    // 25 readings 100 ms apart per zone, both zones at the same instants (ties broken by id in pages).
    let mut rows = Vec::new();
    for i in 0..25 {
        rows.push(reading(a.id, BASE + i * 100, 20.0 + i as f64 / 10.0));
        rows.push(reading(b.id, BASE + i * 100, 18.0));
    }
    s.insert_readings(&rows).await.unwrap();

    // Keyset pages of 4 give what one page gives, in (ts, id) order, for one zone and for all.
    let (from, to) = (at(BASE), at(BASE + 100_000));
    let one = s.readings_page(Some(a.id), from, to, None, 1000).await.unwrap();
    assert_eq!(one.len(), 25);
    assert!(one.windows(2).all(|w| w[0].ts < w[1].ts));
    for zone in [Some(a.id), None] {
        let all = s.readings_page(zone, from, to, None, 1000).await.unwrap();
        let mut paged = Vec::new();
        let mut after = None;
        loop {
            let page = s.readings_page(zone, from, to, after, 4).await.unwrap();
            assert!(page.len() <= 4);
            after = page.last().map(|r| (r.ts, r.id));
            let last = page.len() < 4;
            paged.extend(page);
            if last {
                break;
            }
        }
        assert_eq!(paged, all, "{zone:?}");
        assert!(all.windows(2).all(|w| (w[0].ts, w[0].id) < (w[1].ts, w[1].id)));
    }
    assert_eq!(s.readings_page(None, from, to, None, 1000).await.unwrap().len(), 50);
    assert_eq!(s.readings_page(Some(a.id), at(BASE + 200), at(BASE + 500), None, 1000).await.unwrap().len(), 3);

    // Retention: readings 0..10 of each zone are older than the cutoff; reading 10 is exactly at it and stays.
    let cutoff = at(BASE + 1000);
    let mut batches = 0;
    loop {
        let n = s.purge_batch(Retained::Readings, cutoff, 4).await.unwrap();
        assert!(n <= 4, "a batch deletes at most its limit");
        batches += 1;
        if n < 4 {
            break;
        }
    }
    assert!(batches >= 5, "20 expired rows in batches of 4: {batches} batches");
    for zone in [a.id, b.id] {
        let left = s.readings_page(Some(zone), at(0), to, None, 1000).await.unwrap();
        let times: Vec<_> = left.iter().map(|r| r.ts).collect();
        let expected: Vec<_> = (10..25).map(|i| at(BASE + i * 100)).collect();
        assert_eq!(times, expected, "nothing at or after the cutoff deleted, nothing before it left");
    }
    assert_eq!(s.purge_batch(Retained::Readings, cutoff, 4).await.unwrap(), 0);

    // A rollup level: a bucket goes once it ends at or before the cutoff (the readings above all lie in the minute
    // from BASE), in batches; the other levels stay.
    let minutes = |zone| async move { s.rollup_buckets(zone, Resolution::Minute).await.unwrap() };
    let count = || async { minutes(a.id).await.len() + minutes(b.id).await.len() };
    let before = count().await;
    assert!(before >= 2 && minutes(a.id).await.iter().any(|b| b.start == at(BASE)));
    assert_eq!(s.purge_batch(Retained::Minute, at(BASE + 59_999), 100).await.unwrap(), 0, "a bucket not yet ended");
    let mut purged = 0;
    while let n @ 1.. = s.purge_batch(Retained::Minute, at(BASE + 60_000), 1).await.unwrap() {
        assert_eq!(n, 1, "a batch deletes at most its limit");
        purged += 1;
    }
    assert_eq!(purged, 2, "the minute from BASE of each zone");
    for zone in [a.id, b.id] {
        assert!(minutes(zone).await.iter().all(|b| b.start >= at(BASE + 60_000)), "nothing newer deleted");
        assert!(!s.rollup_buckets(zone, Resolution::Quarter).await.unwrap().is_empty(), "other levels kept");
    }
    assert_eq!(count().await, before - purged);

    // Commands: an old pending command is never deleted; old finished ones are; newer ones stay.
    let pending = s.insert_command(&command(a.id, BASE, 20.0, CommandSource::Api)).await.unwrap();
    let old_done = s.insert_command(&command(a.id, BASE + 10, 20.0, CommandSource::Api)).await.unwrap();
    s.update_command_status(old_done.id, CommandStatus::Confirmed, None).await.unwrap();
    let old_failed = s.insert_command(&command(a.id, BASE + 20, 20.0, CommandSource::Control)).await.unwrap();
    s.update_command_status(old_failed.id, CommandStatus::Failed, Some("timeout")).await.unwrap();
    let at_cutoff = s.insert_command(&command(a.id, BASE + 1000, 20.0, CommandSource::Api)).await.unwrap();
    s.update_command_status(at_cutoff.id, CommandStatus::Confirmed, None).await.unwrap();
    assert_eq!(s.purge_batch(Retained::Commands, cutoff, 100).await.unwrap(), 2);
    assert!(s.get_command(pending.id).await.unwrap().is_some(), "pending kept");
    assert!(s.get_command(old_done.id).await.unwrap().is_none());
    assert!(s.get_command(old_failed.id).await.unwrap().is_none());
    assert!(s.get_command(at_cutoff.id).await.unwrap().is_some(), "at the cutoff kept");

    // The audit log.
    let entry = |ms| NewAuditEntry {
        ts: at(ms),
        actor: "test".into(),
        action: "zone.update".into(),
        zone_id: Some(a.id),
        details: json!({}),
    };
    let old = s.insert_audit(&entry(BASE + 999)).await.unwrap();
    let kept = s.insert_audit(&entry(BASE + 1000)).await.unwrap();
    assert!(s.purge_batch(Retained::Audit, cutoff, 100).await.unwrap() >= 1);
    let ids: Vec<_> = s.list_audit(Some(a.id), Page::default()).await.unwrap().iter().map(|e| e.id).collect();
    assert!(ids.contains(&kept.id) && !ids.contains(&old.id), "{ids:?}");

    // The check, bytes per table, space given back.
    let check = s.check().await.unwrap();
    assert!(check.ok, "{check:?}");
    let bytes = s.table_bytes().await.unwrap();
    assert_eq!(bytes.iter().map(|(t, _)| *t).collect::<Vec<_>>(), TABLES);
    assert!(bytes.iter().find(|(t, _)| *t == "sensor_readings").unwrap().1 > 0, "{bytes:?}");
    let reclaimed = s.reclaim_space(1_000_000, 64, StdDuration::ZERO, i64::MAX).await.unwrap();
    match s {
        Storage::Sqlite(_) => {
            let r = reclaimed.expect("SQLite gives space back");
            assert!(!r.converted, "a new file is incremental from its creation");
            assert_eq!(r.free_pages_left, 0, "{r:?}");
        }
        Storage::Postgres(_) => assert_eq!(reclaimed, None::<Reclaimed>, "autovacuum's business"),
    }

    s.delete_zone(a.id, true).await.unwrap();
    s.delete_zone(b.id, true).await.unwrap();
}

fn file_size(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).unwrap().len()
}

/// An SQLite file created before incremental auto-vacuum (here: a table made by a plain connection first) is
/// switched once by the first `reclaim_space`, which then gives the freed pages back: the file shrinks.
#[tokio::test]
async fn an_older_sqlite_file_is_switched_to_incremental_vacuum_and_shrinks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    {
        use sqlx::sqlite::SqliteConnectOptions;
        let mut conn = SqliteConnectOptions::new().filename(&path).create_if_missing(true).connect().await.unwrap();
        sqlx::query("CREATE TABLE legacy (x INTEGER)").execute(&mut conn).await.unwrap();
        conn.close().await.unwrap();
    }
    let s = Storage::connect(&url).await.unwrap();
    let zone = s.create_zone(&fields("Old file", Some(6401)), at(0)).await.unwrap();
    let rows: Vec<_> = (0..40_000).map(|i| reading(zone.id, i * 1000, 20.0)).collect();
    s.insert_readings(&rows).await.unwrap();
    let full = s.database_size_bytes().await.unwrap();
    while s.purge_batch(Retained::Readings, at(36_000_000), 5000).await.unwrap() == 5000 {}
    assert_eq!(s.database_size_bytes().await.unwrap(), full, "deleting alone gives nothing back");
    // Larger than the running server may switch: left as it is, and said so.
    let deferred = s.reclaim_space(1_000_000, 256, StdDuration::ZERO, 4096).await.unwrap().unwrap();
    assert!(!deferred.converted && deferred.pages == 0, "{deferred:?}");
    assert_eq!(deferred.switch_deferred_bytes, Some(full), "{deferred:?}");
    assert!(deferred.free_pages_left > 0, "{deferred:?}");
    assert_eq!(s.database_size_bytes().await.unwrap(), full, "nothing given back");
    let first = s.reclaim_space(1_000_000, 256, StdDuration::ZERO, i64::MAX).await.unwrap().unwrap();
    assert!(first.converted && first.switch_deferred_bytes.is_none(), "{first:?}");
    let after = s.database_size_bytes().await.unwrap();
    assert!(after < full / 2, "{after} bytes of {full}");
    let again = s.reclaim_space(1_000_000, 256, StdDuration::ZERO, i64::MAX).await.unwrap().unwrap();
    assert!(!again.converted, "once only");
    s.close().await;
    assert!(file_size(&path) <= u64::try_from(after).unwrap() + 4096, "the file itself shrank");
}

//! The poller stores a cycle's readings while the next cycle reads (`jobs::poll`): the next cycle reads every zone
//! meanwhile, then waits for the store slot; stores run one at a time and in cycle order; a zone given up
//! (`Fleet::quiesce`) waits for the store of what was read of it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use heating_core::clock::{Clock, ManualClock};
use heating_server::domain::Page;
use heating_server::jobs::poll::{read_cycle, store_cycle};
use heating_server::storage::ReadingFilter;

use crate::helpers::{Options, monday_3am, start};

#[tokio::test]
async fn the_next_cycle_reads_while_the_previous_one_stores_and_stores_keep_their_order() {
    let clock = Arc::new(ManualClock::new(monday_3am()));
    let env = start(Options::stepped(clock.clone())).await;
    let zones = env.zone_ids.len();
    let t1 = clock.now();
    let first = read_cycle(&env.state).await;
    // Read, not stored: a zone given up now would wait for this store.
    for &id in &env.zone_ids {
        let live = env.state.fleet.get(id).unwrap().live().reading.map(|r| r.at);
        assert_eq!(live, Some(t1), "zone {id} read");
    }
    assert_eq!(stored(&env, env.zone_ids[0]).await.len(), 0, "nothing stored before store_cycle");
    assert!(
        tokio::time::timeout(Duration::from_millis(200), env.state.fleet.quiesce()).await.is_err(),
        "quiesce must wait for the pending store"
    );

    // The next cycle reads every zone while the first one's readings are still to be stored ...
    clock.advance(chrono::Duration::seconds(5));
    let t2 = clock.now();
    let state = env.state.clone();
    let second = tokio::spawn(async move { read_cycle(&state).await });
    let deadline = Instant::now() + Duration::from_secs(10);
    while !env.zone_ids.iter().all(|&id| env.state.fleet.get(id).unwrap().live().reading.map(|r| r.at) == Some(t2)) {
        assert!(Instant::now() < deadline, "the second cycle did not read every zone while the first was unstored");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // ... and then waits for the store slot: it cannot finish before the first cycle is stored.
    assert!(!second.is_finished(), "the second cycle must wait for the first one's store");

    let report = store_cycle(&env.state, first).await;
    assert_eq!((report.ok, report.stored), (zones, zones as u64), "{report:?}");
    let second = tokio::time::timeout(Duration::from_secs(10), second).await.expect("slot freed").unwrap();
    let report = store_cycle(&env.state, second).await;
    assert_eq!(report.stored, zones as u64, "{report:?}");
    tokio::time::timeout(Duration::from_secs(5), env.state.fleet.quiesce()).await.expect("nothing pending");

    // Every zone has both readings, in cycle order (newest first: t2 then t1; ids follow the order they were stored).
    for &id in &env.zone_ids {
        let rows = stored(&env, id).await;
        assert_eq!(rows.iter().map(|r| r.ts).collect::<Vec<_>>(), vec![t2, t1], "zone {id}");
        assert!(rows[0].id > rows[1].id, "zone {id}: the first cycle was stored first");
    }
    env.shutdown().await;
}

async fn stored(env: &crate::helpers::Env, zone: i64) -> Vec<heating_server::storage::Reading> {
    let filter = ReadingFilter { page: Page::first(10), from: None, to: None };
    env.state.storage.list_zone_readings(zone, filter).await.unwrap()
}

//! What the metrics read of the database: rows per table and its size, on both backends.

use heating_server::storage::TABLES;

use super::*;

pub(super) async fn rows_per_table_and_size(s: &Storage) {
    let before = s.table_rows().await.unwrap();
    let names: Vec<&str> = before.iter().map(|(t, _)| *t).collect();
    assert_eq!(names, TABLES, "every table, in order");
    assert!(s.database_size_bytes().await.unwrap() > 0);

    let zone = s.create_zone(&fields("Counted", Some(6201)), at(0)).await.unwrap();
    let readings: Vec<_> = (0..3).map(|i| reading(zone.id, i * 1000, 20.0)).collect();
    s.insert_readings(&readings).await.unwrap();
    let after = s.table_rows().await.unwrap();
    let delta: Vec<(&str, i64)> = before.iter().zip(&after).map(|((t, a), (_, b))| (*t, b - a)).collect();
    let expected: Vec<(&str, i64)> = TABLES
        .iter()
        .map(|t| match *t {
            "zones" => (*t, 1),
            "sensor_readings" => (*t, 3),
            // The three readings share one bucket of each rollup level.
            "readings_1m" | "readings_15m" | "readings_1h" => (*t, 1),
            _ => (*t, 0),
        })
        .collect();
    assert_eq!(delta, expected);
    s.delete_zone(zone.id, true).await.unwrap();
    assert_eq!(s.table_rows().await.unwrap(), before);
}

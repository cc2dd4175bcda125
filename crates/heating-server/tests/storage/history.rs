//! The history aggregation of the conformance suite: buckets, shares and the energy counter against raw data.

use super::*;

pub(crate) async fn history_buckets(s: &Storage) {
    let z = s.create_zone(&fields("History", Some(9000)), at(0)).await.unwrap();
    let other = s.create_zone(&fields("History Noise", Some(9001)), at(0)).await.unwrap();
    let r = |ms: i64, t: f64, energy: Option<u32>| NewReading {
        heater_on: Some(true),
        energy_wh: energy,
        occupancy: true,
        ..reading(z.id, ms, t)
    };
    const TOP: u32 = 4_294_967_000; // within 2²⁴ of 2³²: going down from here is a wrap
    let readings = vec![
        // Outside the range on both sides.
        r(-1, 99.0, Some(1)),
        r(60_000, 99.0, Some(1)),
        // Bucket 0 (0-10 s): every field.
        NewReading {
            target_temp: Some(21.0),
            outdoor_temp: Some(5.0),
            occupancy: true,
            heater_on: Some(true),
            ..r(0, 20.0, Some(100))
        },
        NewReading {
            target_temp: Some(21.0),
            outdoor_temp: Some(7.0),
            occupancy: false,
            heater_on: Some(false),
            ..r(5_000, 22.0, Some(150))
        },
        // Bucket 1 (10-20 s): empty, left out.
        // Bucket 2 (20-30 s): posted by hand, no optional value.
        reading(z.id, 20_000, 18.0),
        NewReading { occupancy: true, ..reading(z.id, 29_999, 19.0) },
        // Bucket 3 (30-40 s): a reset inside (200 → 10).
        r(30_000, 19.0, Some(200)),
        r(33_000, 19.5, Some(10)),
        r(36_000, 20.0, Some(40)),
        // Bucket 4 (40-50 s): a wrap inside (TOP → 100).
        r(40_000, 20.0, Some(TOP)),
        r(45_000, 20.0, Some(100)),
        // Bucket 5 (50-60 s).
        r(59_999, 21.0, Some(200)),
    ];
    s.insert_readings(&readings).await.unwrap();
    s.insert_readings(&[NewReading { energy_wh: Some(5), ..reading(other.id, 1_000, 50.0) }]).await.unwrap();

    let h = s.zone_history(z.id, HistoryQuery::new(at(0), at(60_000), 6).unwrap()).await.unwrap();
    assert_eq!(h.readings, 10);
    let starts: Vec<_> = h.buckets.iter().map(|b| b.start).collect();
    assert_eq!(starts, vec![at(0), at(20_000), at(30_000), at(40_000), at(50_000)]);
    assert_eq!(h.buckets.iter().map(|b| b.count).collect::<Vec<_>>(), vec![2, 2, 3, 2, 1]);

    let b0 = &h.buckets[0];
    assert_eq!((b0.temperature.min, b0.temperature.max), (20.0, 22.0));
    assert!(close(b0.temperature.avg, 21.0));
    let target = b0.target_temp.unwrap();
    assert_eq!((target.min, target.max), (21.0, 21.0));
    assert!(close(target.avg, 21.0));
    let outdoor = b0.outdoor_temp.unwrap();
    assert_eq!((outdoor.min, outdoor.max), (5.0, 7.0));
    assert!(close(outdoor.avg, 6.0));
    assert!(close(b0.heater_on_fraction.unwrap(), 0.5));
    assert!(close(b0.occupied_fraction, 0.5));

    let b2 = &h.buckets[1];
    assert_eq!((b2.target_temp, b2.outdoor_temp, b2.heater_on_fraction), (None, None, None));
    assert!(close(b2.occupied_fraction, 0.5));
    assert!(close(b2.temperature.avg, 18.5));

    let b3 = &h.buckets[2];
    assert!(close(b3.temperature.avg, 19.5));
    assert!(close(b3.heater_on_fraction.unwrap(), 1.0));
    assert!(close(b3.occupied_fraction, 1.0));

    // 100 → 150 (+50), 150 → 200 across buckets (+50), reset 200 → 10 (+10), 10 → 40 (+30), 40 → TOP across
    // buckets, wrap TOP → 100 (+100 + 2³² - TOP), 100 → 200 across buckets (+100).
    let wrap = 100 + (1_i64 << 32) - i64::from(TOP);
    let expected = 50 + 50 + 10 + 30 + (i64::from(TOP) - 40) + wrap + 100;
    assert_eq!(h.energy_wh, Some(expected));

    // One bucket over the same range: the walk covers every step at once.
    let one = s.zone_history(z.id, HistoryQuery::new(at(0), at(60_000), 1).unwrap()).await.unwrap();
    assert_eq!((one.buckets.len(), one.readings, one.energy_wh), (1, 10, Some(expected)));
    assert_eq!(one.buckets[0].temperature.max, 22.0);

    // Uneven buckets: 7 ms over 2 points are 4 ms wide; the last one is cut at `to`.
    let narrow = s.zone_history(z.id, HistoryQuery::new(at(29_996), at(30_003), 2).unwrap()).await.unwrap();
    let shape: Vec<_> = narrow.buckets.iter().map(|b| (b.start, b.count)).collect();
    assert_eq!(shape, vec![(at(29_996), 1), (at(30_000), 1)]);
    assert_eq!((narrow.readings, narrow.energy_wh), (2, None), "one counter value is no energy");

    // No readings at all in the range.
    let empty = s.zone_history(z.id, HistoryQuery::new(at(100_000), at(200_000), 10).unwrap()).await.unwrap();
    assert_eq!((empty.buckets.len(), empty.readings, empty.energy_wh), (0, 0, None));
    let unknown = s.zone_history(other.id + 1000, HistoryQuery::new(at(0), at(60_000), 6).unwrap()).await.unwrap();
    assert_eq!(unknown.readings, 0);

    s.delete_zone(z.id, true).await.unwrap();
    s.delete_zone(other.id, true).await.unwrap();
}

// --- SQLite ---

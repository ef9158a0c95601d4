//! The calibration line every benchmark prints: how fast this machine is right now at what
//! dominates planning (random lookups in big hash tables), so figures taken on a loaded,
//! shared machine can be scaled. An idle modern machine takes about 60 to 80 ms.

use std::time::Instant;

/// "1M u64 hash inserts + 1000000 lookups (std HashMap): N ms".
pub(crate) fn calibrate() -> String {
    let n = 1_000_000u64;
    let keys: Vec<u64> = (0..n)
        .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .collect();
    let start = Instant::now();
    let map: std::collections::HashMap<u64, u64> = keys.iter().map(|k| (*k, *k)).collect();
    let hits = keys.iter().rev().filter(|k| map.contains_key(k)).count();
    format!(
        "1M u64 hash inserts + {hits} lookups (std HashMap): {:.0} ms",
        start.elapsed().as_secs_f64() * 1e3
    )
}

//! Deterministic, stateless pseudo-randomness.
//!
//! Seeded jitter and weather noise are pure functions of `(seed, keys...)`: any party that knows the seed (the
//! simulator, the server's offline weather provider, a benchmark) computes the same value for the same moment
//! without replaying a random stream from the start. The mixer is SplitMix64's finaliser; it is defined here, not
//! taken from a crate, so that a dependency upgrade can never change a reproducible trace.

/// Mixes a 64-bit value (SplitMix64 finaliser).
#[must_use]
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hashes a seed and a list of keys into 64 bits.
#[must_use]
pub fn hash(seed: u64, keys: &[u64]) -> u64 {
    keys.iter().fold(mix64(seed), |acc, &k| mix64(acc ^ mix64(k)))
}

/// A uniform number in `[0, 1)` derived from a seed and keys.
#[must_use]
pub fn unit(seed: u64, keys: &[u64]) -> f64 {
    (hash(seed, keys) >> 11) as f64 / (1u64 << 53) as f64
}

/// A uniform number in `[-1, 1)` derived from a seed and keys.
#[must_use]
pub fn signed_unit(seed: u64, keys: &[u64]) -> f64 {
    unit(seed, keys) * 2.0 - 1.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_spread() {
        assert_eq!(hash(1, &[2, 3]), hash(1, &[2, 3]));
        assert_ne!(hash(1, &[2, 3]), hash(1, &[3, 2]));
        assert_ne!(hash(1, &[2]), hash(2, &[2]));
        let n = 10_000;
        let mean: f64 = (0..n).map(|i| unit(7, &[i])).sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.02, "mean {mean}");
        assert!((0..n).all(|i| (0.0..1.0).contains(&unit(9, &[i]))));
    }
}

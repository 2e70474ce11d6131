//! Helpers shared by the bench targets.

/// `count` points spread uniformly over the bbox of Montréal and Laval, as
/// `(lat, lon)`, from a fixed seed so that every run measures the same work.
pub fn sample_points(count: usize) -> Vec<(f64, f64)> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        // xorshift64*: enough spread for sampling, and reproducible.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..count)
        .map(|_| (45.41 + 0.29 * next(), -73.95 + 0.47 * next()))
        .collect()
}

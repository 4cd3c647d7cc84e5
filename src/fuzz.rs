//! Test-only: how many cases the property tests over outside input run (issue 27 §2), and with
//! which seed. Each parser's `fuzz_*` tests live beside it (they reach private code); they all
//! take [`config`].
//!
//! - `make test`: 2 000 cases per target, a fixed seed (the same cases every run).
//! - Nightly: `TESSERA_FUZZ_CASES=100000 TESSERA_FUZZ_SEED=$RANDOM cargo test --release --lib fuzz_`
//!   (a new seed each night; a failure prints the seed and the shrunk input, which then becomes a
//!   regression test beside the target).

use proptest::test_runner::{Config, RngSeed};

/// Cases per target by default (`make test`).
const DEFAULT_CASES: u32 = 2_000;
const DEFAULT_SEED: u64 = 0x7e55_e7a0;

/// The property-test configuration: `TESSERA_FUZZ_CASES`, `TESSERA_FUZZ_SEED`.
pub(crate) fn config() -> Config {
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.trim().parse::<u64>().ok());
    let cases = env("TESSERA_FUZZ_CASES").map_or(DEFAULT_CASES, |n| u32::try_from(n).unwrap_or(u32::MAX));
    let seed = env("TESSERA_FUZZ_SEED").unwrap_or(DEFAULT_SEED);
    Config { cases, rng_seed: RngSeed::Fixed(seed), failure_persistence: None, max_shrink_iters: 2_000, ..Config::default() }
}

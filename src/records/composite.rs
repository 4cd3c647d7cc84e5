//! The composite a room produces, described once: its own encode (the ladder's top rung, L0)
//! and the lower rungs L1 and L2 that receivers on weak links or small screens get (the media
//! side, `media::ladder`, encodes them; the rung controller takes their bitrates).
//!
//! A lower rung may be set (in the server's `[composite.ladder.l1]`, or per room in
//! `composite.ladder.l1`); one not set is derived from the composite as before the ladder was
//! configurable: L1 half its width and height at 30 % of its bitrate, L2 a quarter, at most
//! 15 fps, at 8 % (and never more than the rung above it). The stored forms (the SQLite
//! column, the Redis JSON, the TOML file) write only the rungs that are set, so a composite
//! without a ladder reads and writes exactly as it did before.
//!
//! Invariants: every rung is checked in [`CompositeConfig::check_ladder`], the one place: even
//! sizes of at least 16, and no rung larger, faster or of a higher bitrate than the rung above
//! it (a derived rung keeps these by construction).

use serde::{Deserialize, Serialize};

/// Least bitrate of a lower rung, kbit/s (what L2 of the smallest composite is derived to).
pub const MIN_RUNG_KBPS: u32 = 30;
/// Least width and height of a lower rung, pixels.
pub const MIN_RUNG_SIZE: u32 = 16;

/// One encode of the composite: its size, frame rate and target bitrate (kbit/s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RungConfig {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub bitrate_kbps: u32,
}

/// Settings of the composite every room produces.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CompositeConfig {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// Target video bitrate of the composite, kbit/s.
    pub bitrate_kbps: u32,
    /// The lower rungs that are set (absent from the stored form when neither is).
    #[serde(skip_serializing_if = "LadderConfig::is_derived")]
    pub ladder: LadderConfig,
}

impl Default for CompositeConfig {
    fn default() -> Self {
        Self { width: 1280, height: 720, fps: 30, bitrate_kbps: 1500, ladder: LadderConfig::default() }
    }
}

/// The composite's lower rungs as set; `None` is derived from the composite.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct LadderConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub l1: Option<RungConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub l2: Option<RungConfig>,
}

impl LadderConfig {
    /// Neither rung is set: both follow the composite.
    pub fn is_derived(&self) -> bool {
        let LadderConfig { l1, l2 } = self;
        l1.is_none() && l2.is_none()
    }
}

impl RungConfig {
    /// This rung, no larger, faster or richer than `above` in any of the four.
    fn capped_by(self, above: RungConfig) -> RungConfig {
        RungConfig {
            width: self.width.min(above.width),
            height: self.height.min(above.height),
            fps: self.fps.min(above.fps),
            bitrate_kbps: self.bitrate_kbps.min(above.bitrate_kbps),
        }
    }

    /// Checks this rung (named `name`, e.g. `composite.ladder.l1`) against the rung above it;
    /// `bitrate_key` is how the bitrate is spelt where it was given.
    fn check_below(&self, above: &RungConfig, name: &str, bitrate_key: &str) -> Result<(), String> {
        let RungConfig { width, height, fps, bitrate_kbps } = *self;
        let size_ok = |v: u32, max: u32| (MIN_RUNG_SIZE..=max).contains(&v) && v.is_multiple_of(2);
        if !size_ok(width, above.width) || !size_ok(height, above.height) {
            return Err(format!(
                "{name}.width/height must be even, at least {MIN_RUNG_SIZE} and at most the rung above's {}×{}, got {width}×{height}",
                above.width, above.height
            ));
        }
        if !(1..=above.fps).contains(&fps) {
            return Err(format!("{name}.fps must be within 1..={} (the rung above's), got {fps}", above.fps));
        }
        if !(MIN_RUNG_KBPS..=above.bitrate_kbps).contains(&bitrate_kbps) {
            return Err(format!(
                "{name}.{bitrate_key} must be within {MIN_RUNG_KBPS}..={} (the rung above's), got {bitrate_kbps}",
                above.bitrate_kbps
            ));
        }
        Ok(())
    }
}

impl CompositeConfig {
    /// The composite's own encode: the ladder's top rung.
    pub fn l0(&self) -> RungConfig {
        let CompositeConfig { width, height, fps, bitrate_kbps, ladder: _ } = *self;
        RungConfig { width, height, fps, bitrate_kbps }
    }

    /// L1 as set, else half the composite's width and height at 30 % of its bitrate.
    pub fn l1(&self) -> RungConfig {
        let l0 = self.l0();
        self.ladder.l1.unwrap_or_else(|| {
            RungConfig {
                width: half_even(l0.width, 2),
                height: half_even(l0.height, 2),
                fps: l0.fps,
                bitrate_kbps: (l0.bitrate_kbps * 3 / 10).max(60),
            }
            .capped_by(l0)
        })
    }

    /// L2 as set, else a quarter of the composite's width and height, at most 15 fps, at 8 % of
    /// its bitrate; a derived L2 is never more than L1.
    pub fn l2(&self) -> RungConfig {
        let l0 = self.l0();
        self.ladder.l2.unwrap_or_else(|| {
            RungConfig {
                width: half_even(l0.width, 4),
                height: half_even(l0.height, 4),
                fps: l0.fps.min(15),
                bitrate_kbps: (l0.bitrate_kbps * 2 / 25).max(MIN_RUNG_KBPS),
            }
            .capped_by(self.l1())
        })
    }

    /// L0, L1 and L2.
    pub fn rungs(&self) -> [RungConfig; 3] {
        [self.l0(), self.l1(), self.l2()]
    }

    /// Checks the lower rungs (the composite's own bounds are its caller's: they differ between
    /// the server's configuration and a room). Fields are named `composite.ladder.l1.width`;
    /// `bitrate_key` is how the bitrate is spelt where the settings came from (`bitrateKbps`
    /// in the REST API, `bitrate_kbps` in the TOML file).
    pub fn check_ladder(&self, bitrate_key: &str) -> Result<(), String> {
        let [l0, l1, l2] = self.rungs();
        l1.check_below(&l0, "composite.ladder.l1", bitrate_key)?;
        l2.check_below(&l1, "composite.ladder.l2", bitrate_key)
    }
}

/// `v / by`, even (I420 and the encoders need it), at least [`MIN_RUNG_SIZE`].
fn half_even(v: u32, by: u32) -> u32 {
    ((v / by) & !1).max(MIN_RUNG_SIZE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rung(width: u32, height: u32, fps: u32, bitrate_kbps: u32) -> RungConfig {
        RungConfig { width, height, fps, bitrate_kbps }
    }

    #[test]
    fn rungs_not_set_are_derived_as_before() {
        let c = CompositeConfig::default();
        assert_eq!(c.rungs(), [rung(1280, 720, 30, 1500), rung(640, 360, 30, 450), rung(320, 180, 15, 120)]);
        c.check_ladder("bitrateKbps").unwrap();
        // The smallest composites the server and a room allow still make a valid ladder.
        for (w, h, fps, kbps) in [(64, 64, 1, 100), (160, 90, 30, 100), (3840, 2160, 60, 20_000), (162, 92, 7, 101)] {
            let c = CompositeConfig { width: w, height: h, fps, bitrate_kbps: kbps, ladder: LadderConfig::default() };
            c.check_ladder("bitrateKbps").unwrap_or_else(|e| panic!("{w}x{h}@{fps} {kbps}: {e}"));
        }
        let small = CompositeConfig { width: 160, height: 90, fps: 30, bitrate_kbps: 100, ladder: LadderConfig::default() };
        assert_eq!(small.rungs()[1..], [rung(80, 44, 30, 60), rung(40, 22, 15, 30)]);
    }

    #[test]
    fn a_rung_set_wins_and_a_derived_one_below_it_is_capped_by_it() {
        let l1 = rung(480, 270, 20, 100);
        let c = CompositeConfig { ladder: LadderConfig { l1: Some(l1), l2: None }, ..CompositeConfig::default() };
        // Derived L2 would be 320×180 at 15 fps and 120 kbit/s: more bitrate than L1 has.
        assert_eq!(c.rungs()[1..], [l1, rung(320, 180, 15, 100)]);
        c.check_ladder("bitrateKbps").unwrap();
        let l2 = rung(256, 144, 10, 80);
        let c = CompositeConfig { ladder: LadderConfig { l1: None, l2: Some(l2) }, ..CompositeConfig::default() };
        assert_eq!(c.rungs()[1..], [rung(640, 360, 30, 450), l2]);
    }

    #[test]
    fn every_rung_is_checked_against_the_one_above() {
        type Ladder = (Option<RungConfig>, Option<RungConfig>);
        let cases: [(Ladder, &str); 10] = [
            ((Some(rung(641, 360, 30, 450)), None), "composite.ladder.l1.width/height must be even"),
            ((Some(rung(640, 14, 30, 450)), None), "at least 16"),
            ((Some(rung(1282, 720, 30, 450)), None), "at most the rung above's 1280×720, got 1282×720"),
            ((Some(rung(640, 360, 31, 450)), None), "composite.ladder.l1.fps must be within 1..=30"),
            ((Some(rung(640, 360, 0, 450)), None), "composite.ladder.l1.fps"),
            ((Some(rung(640, 360, 30, 1501)), None), "composite.ladder.l1.bitrateKbps must be within 30..=1500"),
            ((Some(rung(640, 360, 30, 29)), None), "composite.ladder.l1.bitrateKbps"),
            (
                (None, Some(rung(642, 360, 15, 100))),
                "composite.ladder.l2.width/height must be even, at least 16 and at most the rung above's 640×360",
            ),
            ((Some(rung(640, 360, 10, 450)), Some(rung(320, 180, 15, 100))), "composite.ladder.l2.fps must be within 1..=10"),
            ((None, Some(rung(320, 180, 15, 451))), "composite.ladder.l2.bitrateKbps must be within 30..=450"),
        ];
        for ((l1, l2), want) in cases {
            let c = CompositeConfig { ladder: LadderConfig { l1, l2 }, ..CompositeConfig::default() };
            let e = c.check_ladder("bitrateKbps").unwrap_err();
            assert!(e.contains(want), "{e:?} should say {want:?}");
        }
        let c = CompositeConfig { ladder: LadderConfig { l1: Some(rung(640, 360, 30, 20)), l2: None }, ..CompositeConfig::default() };
        assert!(c.check_ladder("bitrate_kbps").unwrap_err().contains("composite.ladder.l1.bitrate_kbps"));
        // Equal to the rung above is allowed (if pointless).
        let same = CompositeConfig { ladder: LadderConfig { l1: Some(rung(1280, 720, 30, 1500)), l2: None }, ..CompositeConfig::default() };
        same.check_ladder("bitrateKbps").unwrap();
    }

    #[test]
    fn the_stored_form_writes_only_the_rungs_set_and_reads_a_missing_one_as_derived() {
        let old = r#"{"width":640,"height":360,"fps":30,"bitrate_kbps":600}"#;
        let c: CompositeConfig = serde_json::from_str(old).unwrap();
        assert!(c.ladder.is_derived());
        assert_eq!(c.l1(), rung(320, 180, 30, 180));
        assert_eq!(serde_json::to_string(&c).unwrap(), old, "a composite without a ladder is stored as before");
        let set = CompositeConfig { ladder: LadderConfig { l1: None, l2: Some(rung(160, 90, 10, 60)) }, ..c };
        let json = serde_json::to_string(&set).unwrap();
        assert!(json.ends_with(r#""ladder":{"l2":{"width":160,"height":90,"fps":10,"bitrate_kbps":60}}}"#), "{json}");
        assert_eq!(serde_json::from_str::<CompositeConfig>(&json).unwrap(), set);
        assert!(serde_json::from_str::<CompositeConfig>(r#"{"ladder":{"l3":null}}"#).is_err(), "unknown rungs are refused");
        assert!(serde_json::from_str::<CompositeConfig>(r#"{"ladder":{"l1":{"width":640}}}"#).is_err(), "a rung is given whole");
    }
}

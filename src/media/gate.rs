//! Which inputs are in the mix: a noise gate with hysteresis on the speaker detector's per-frame
//! activity, and at most `max` inputs at once (the loudest).
//!
//! - A frame *sounds* when the detector calls it active (12 dB over its input's noise floor) or
//!   it is at speech level (over [`LOUD_DB`]) however steady: the gate takes noise floors out of
//!   the mix, never a loud sound (a held note, a test tone).
//! - An input's gate opens on its first sounding frame (that frame is mixed: no syllable is
//!   lost) and closes [`HANGOVER`] frames after its last one (pauses between words keep it
//!   open). A muted input (the host's mute, or the client's own `micOff`) closes at once; a
//!   microphone sending silence or nothing (a track disabled without `micOff`) closes after the
//!   hangover, like someone who stopped talking. Either way its receiver goes back to the
//!   shared encode the same way (`mixout.rs`).
//! - Of the open inputs the `max` loudest are mixed (smoothed level of their sounding frames);
//!   one already mixed keeps its place unless a newcomer is [`STICKY_DB`] louder. An input
//!   pushed out while still sounding fades out over one frame ([`Ramp::Out`]); one let in while
//!   already sounding (a place came free, or it pushed another out) fades in ([`Ramp::In`]); one
//!   whose gate just opened starts at full weight (its first frame is the talker's onset). No
//!   click either way.
//!
//! Invariant: at most `max` inputs are [`Ramp::Full`] or [`Ramp::In`] in any tick.

use std::collections::HashMap;

/// Frames (20 ms) a gate stays open after its last sounding frame.
pub const HANGOVER: u32 = 30;
/// Level (dBov) at and above which a frame always sounds.
pub const LOUD_DB: f32 = -40.0;
/// How much louder a newcomer must be to take a mixed input's place.
pub const STICKY_DB: f32 = 6.0;

/// What the mixer took from one input this tick.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Heard {
    /// Muted by the host: out of the mix now.
    Muted,
    /// No frame ready (silence, a gap, a client that sends nothing).
    Nothing,
    /// A frame at `db` dBov; `active` is the speaker detector's verdict on it.
    Frame { db: f32, active: bool },
}

/// How an input's frame goes into this tick's mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ramp {
    /// At full weight.
    Full,
    /// Rising from 0 to full over the frame (it takes the place of one fading out).
    In,
    /// Falling from full to 0 over the frame; out of the mix from the next tick.
    Out,
}

#[derive(Default)]
struct Input {
    /// Frames left before the gate closes (0: closed).
    open: u32,
    /// Smoothed level of sounding frames, dBov.
    level_db: f32,
    mixed: bool,
    /// Was open before this tick's frame.
    was_open: bool,
    /// Has a frame this tick (never while muted).
    frame: bool,
}

/// The gate's state; fed once per input per mixer tick, then [`TalkerGate::select`].
pub struct TalkerGate {
    max: usize,
    inputs: HashMap<String, Input>,
    chosen: Vec<(String, Ramp)>,
}

impl TalkerGate {
    /// A gate mixing at most `max` inputs (at least one).
    pub fn new(max: usize) -> Self {
        Self { max: max.max(1), inputs: HashMap::new(), chosen: Vec::new() }
    }

    /// What `id` gave this tick.
    pub fn observe(&mut self, id: &str, heard: Heard) {
        let input = match self.inputs.get_mut(id) {
            Some(i) => i,
            None => self.inputs.entry(id.to_owned()).or_default(),
        };
        input.was_open = input.open > 0;
        input.frame = matches!(heard, Heard::Frame { .. });
        match heard {
            Heard::Muted => input.open = 0,
            Heard::Frame { db, active } if active || db >= LOUD_DB => {
                input.level_db = if input.open == 0 { db } else { 0.8 * input.level_db + 0.2 * db };
                input.open = HANGOVER;
            }
            Heard::Frame { .. } | Heard::Nothing => input.open = input.open.saturating_sub(1),
        }
    }

    /// Forgets `id` (it left).
    pub fn remove(&mut self, id: &str) {
        self.inputs.remove(id);
    }

    /// The last [`TalkerGate::select`]'s choice, by id.
    pub fn chosen(&self) -> &[(String, Ramp)] {
        &self.chosen
    }

    /// Ends the tick: the inputs whose frames go into the mix now, and how.
    pub fn select(&mut self) -> &[(String, Ramp)] {
        let mut open: Vec<(f32, &String)> = self
            .inputs
            .iter()
            .filter(|(_, i)| i.open > 0)
            .map(|(id, i)| (i.level_db + if i.mixed { STICKY_DB } else { 0.0 }, id))
            .collect();
        open.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        open.truncate(self.max);
        let keep: Vec<String> = open.into_iter().map(|(_, id)| id.clone()).collect();
        self.chosen.clear();
        for (id, i) in self.inputs.iter_mut() {
            let (was, now) = (i.mixed, keep.contains(id));
            i.mixed = now;
            let ramp = match (was, now) {
                // Pushed out while still sounding (not muted, not silent for the hangover).
                (true, false) if i.open > 0 && i.frame => Ramp::Out,
                // Let in while it was already sounding (a place came free): mid-sound.
                (false, true) if i.was_open => Ramp::In,
                (_, true) => Ramp::Full,
                (_, false) => continue,
            };
            if i.frame {
                self.chosen.push((id.clone(), ramp));
            }
        }
        self.chosen.sort_by(|a, b| a.0.cmp(&b.0));
        &self.chosen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TALK: Heard = Heard::Frame { db: -20.0, active: true };
    const NOISE: Heard = Heard::Frame { db: -62.0, active: false };

    /// One tick: `heard` per input; what was chosen.
    fn tick(g: &mut TalkerGate, heard: &[(&str, Heard)]) -> Vec<(String, Ramp)> {
        for (id, h) in heard {
            g.observe(id, *h);
        }
        g.select().to_vec()
    }

    fn ids(chosen: &[(String, Ramp)]) -> Vec<&str> {
        chosen.iter().map(|(id, _)| id.as_str()).collect()
    }

    #[test]
    fn a_talker_is_mixed_from_its_first_frame_until_the_hangover_ends_and_noise_never() {
        let mut g = TalkerGate::new(4);
        for _ in 0..100 {
            assert!(tick(&mut g, &[("a", NOISE), ("b", NOISE)]).is_empty(), "noise is not mixed");
        }
        assert_eq!(tick(&mut g, &[("a", TALK), ("b", NOISE)]), vec![("a".to_owned(), Ramp::Full)], "the onset frame is mixed");
        let mut mixed = 0;
        while !tick(&mut g, &[("a", NOISE), ("b", NOISE)]).is_empty() {
            mixed += 1;
        }
        assert_eq!(mixed, HANGOVER - 1, "a pause shorter than the hangover keeps it in");
        // A steady sound at speech level is never gated, however long.
        for _ in 0..1000 {
            assert_eq!(ids(&tick(&mut g, &[("a", Heard::Frame { db: -30.0, active: false })])), vec!["a"]);
        }
    }

    #[test]
    fn at_most_max_loudest_are_mixed_and_a_place_changes_hands_with_a_crossfade() {
        let mut g = TalkerGate::new(2);
        let at = |db| Heard::Frame { db, active: true };
        let c = tick(&mut g, &[("a", at(-20.0)), ("b", at(-25.0)), ("c", at(-30.0))]);
        assert_eq!(ids(&c), vec!["a", "b"], "the two loudest");
        // c grows louder than b, but not by the sticky margin: b keeps its place.
        for _ in 0..20 {
            assert_eq!(ids(&tick(&mut g, &[("a", at(-20.0)), ("b", at(-25.0)), ("c", at(-22.0))])), vec!["a", "b"]);
        }
        // c is much louder: it takes b's place; b fades out as c fades in.
        let mut c = Vec::new();
        for _ in 0..30 {
            c = tick(&mut g, &[("a", at(-20.0)), ("b", at(-25.0)), ("c", at(-10.0))]);
            if c.iter().any(|(_, r)| *r == Ramp::Out) {
                break;
            }
        }
        assert_eq!(c, vec![("a".into(), Ramp::Full), ("b".into(), Ramp::Out), ("c".into(), Ramp::In)]);
        assert_eq!(
            tick(&mut g, &[("a", at(-20.0)), ("b", at(-25.0)), ("c", at(-10.0))]),
            vec![("a".into(), Ramp::Full), ("c".into(), Ramp::Full)]
        );
        // a stops: after its hangover b, still talking, comes back in mid-sound (fading in).
        let mut waited = 0;
        let c = loop {
            let c = tick(&mut g, &[("a", NOISE), ("b", at(-25.0)), ("c", at(-10.0))]);
            if ids(&c).contains(&"b") {
                break c;
            }
            waited += 1;
        };
        assert_eq!(waited, HANGOVER - 1, "a's place comes free when its gate closes");
        assert_eq!(c, vec![("b".into(), Ramp::In), ("c".into(), Ramp::Full)]);
    }

    #[test]
    fn host_mute_takes_an_input_out_at_once_and_a_silent_one_after_the_hangover() {
        let mut g = TalkerGate::new(4);
        tick(&mut g, &[("a", TALK), ("b", TALK)]);
        assert_eq!(ids(&tick(&mut g, &[("a", Heard::Muted), ("b", Heard::Nothing)])), Vec::<&str>::new(), "nothing to mix from either");
        for _ in 0..HANGOVER - 2 {
            tick(&mut g, &[("a", Heard::Muted), ("b", Heard::Nothing)]);
        }
        assert_eq!(g.inputs["b"].open, 1, "b's gate is still open, a's closed at once");
        assert_eq!(g.inputs["a"].open, 0);
        assert!(tick(&mut g, &[("a", NOISE), ("b", NOISE)]).is_empty());
        g.remove("a");
        assert!(!g.inputs.contains_key("a"));
    }
}

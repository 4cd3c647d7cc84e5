//! Compositor sink pads: placing a tile, and the placeholder shown for a participant whose
//! video has not arrived (or never will). Every tile source has a tee named [`SPLIT`] in front
//! of its name label, where the small-screen canvas takes the unlabelled picture, and between
//! the two an `aspectratiocrop` named [`FIT`] that crops the main canvas's picture to the shape
//! of a cell it must fill ([`fit`]; the grid's cells, `layout/grid.rs`), so the label is drawn
//! on what is shown and the small canvas still gets the whole picture.

use super::{MediaError, make};
use crate::layout::Rect;
use gstreamer as gst;
use gstreamer::prelude::*;

/// Escapes text for textoverlay's Pango markup parser.
pub(crate) fn pango_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// What a tile's label says: the name and the participant's states (drawn on the main canvas
/// as markup, on the small one as plain text, which it cuts to fit).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Label {
    pub name: String,
    /// The network dropped; the tile keeps its last picture.
    pub reconnecting: bool,
    /// Not in the mix (their own microphone off, or muted by the host).
    pub muted: bool,
    pub hand_raised: bool,
}

/// The colour of the "muted" mark (white on it: contrast 4.9:1).
pub const MUTED_RGB: [u8; 3] = [0xc5, 0x22, 0x1f];
/// The colour of the raised hand's mark (black on it: contrast 11:1).
pub const HAND_RGB: [u8; 3] = [0xfb, 0xbc, 0x04];

impl Label {
    pub fn new(name: &str) -> Self {
        Self { name: name.to_owned(), ..Self::default() }
    }

    /// Plain text: "☝ Ada (muted) (reconnecting…)".
    pub fn text(&self) -> String {
        let mut out = String::new();
        if self.hand_raised {
            out.push_str("☝ ");
        }
        out.push_str(&self.name);
        if self.muted {
            out.push_str(" (muted)");
        }
        if self.reconnecting {
            out.push_str(" (reconnecting…)");
        }
        out
    }

    /// Pango markup for the main canvas: the hand black on yellow before the name, "muted" white
    /// on red after it (a mark a viewer finds at a glance, and a test by its pixels); `suffix` (plain
    /// text) after all, e.g. " (video off)" on a placeholder.
    pub fn markup(&self, suffix: &str) -> String {
        let hex = |c: [u8; 3]| format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2]);
        let mut out = String::new();
        if self.hand_raised {
            out.push_str(&format!("<span background=\"{}\" foreground=\"black\"> ☝ hand </span> ", hex(HAND_RGB)));
        }
        out.push_str(&pango_escape(&self.name));
        if self.muted {
            out.push_str(&format!(" <span background=\"{}\" foreground=\"white\"> muted </span>", hex(MUTED_RGB)));
        }
        if self.reconnecting {
            out.push_str(" (reconnecting…)");
        }
        out.push_str(&pango_escape(suffix));
        out
    }
}

/// Sets the text of every label (textoverlay) in `bin` to `markup`.
pub(crate) fn relabel(bin: &gst::Bin, markup: &str) {
    for e in bin.iterate_recurse().into_iter().flatten() {
        if e.factory().is_some_and(|f| f.name() == "textoverlay") {
            e.set_property("text", markup);
        }
    }
}

/// The name of the tee in every tile source that the small-screen canvas takes its picture from.
pub(crate) const SPLIT: &str = "split";

/// A tile source's [`SPLIT`] tee: one branch (the label, to the main canvas) always linked; a
/// branch to the small canvas only while that canvas shows the tile.
pub(crate) fn split() -> Result<gst::Element, MediaError> {
    let t = make("tee")?;
    t.set_property("name", SPLIT);
    t.set_property("allow-not-linked", true);
    Ok(t)
}

/// The name of the crop in every tile source, between [`SPLIT`] and the label.
pub(crate) const FIT: &str = "fit";

/// A tile source's [`FIT`] element: passes the picture through until [`fit`] says otherwise.
pub(crate) fn fit_element() -> Result<gst::Element, MediaError> {
    let e = make("aspectratiocrop")?;
    e.set_property("name", FIT);
    e.set_property("aspect-ratio", gst::Fraction::new(0, 1));
    Ok(e)
}

/// The aspect `fill` asks `source`'s picture to be cropped to: the cell's, or none (0/1: the
/// whole picture, fitted inside its cell by the compositor).
pub(crate) fn crop_for(cell: Option<Rect>, fill: bool) -> gst::Fraction {
    match cell {
        Some(r) if fill && r.w > 0 && r.h > 0 => {
            let g = gcd(r.w, r.h);
            gst::Fraction::new(r.w / g, r.h / g)
        }
        _ => gst::Fraction::new(0, 1),
    }
}

fn gcd(a: i32, b: i32) -> i32 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Crops `source`'s picture (its [`FIT`] element) to `aspect`, if it is not already.
/// aspectratiocrop re-applies a changed ratio to the caps it has, so the next frame has the new
/// shape; the compositor re-negotiates that pad.
pub(crate) fn fit(source: &gst::Bin, aspect: gst::Fraction) {
    let Some(e) = source.by_name(FIT) else { return };
    if e.property::<gst::Fraction>("aspect-ratio") != aspect {
        e.set_property("aspect-ratio", aspect);
    }
}

/// A name label drawn on a tile's source.
pub(crate) fn name_overlay(name: &str, valign: &str) -> Result<gst::Element, MediaError> {
    let t = make("textoverlay")?;
    t.set_property("text", pango_escape(name));
    t.set_property_from_str("valignment", valign);
    t.set_property_from_str("halignment", "left");
    t.set_property("font-desc", "Sans Bold 20");
    t.set_property("shaded-background", true);
    Ok(t)
}

/// A live grey picture with the participant's name, as a bin with one `src` ghost pad.
pub(crate) fn placeholder(name: &str, fps: u32) -> Result<gst::Bin, MediaError> {
    let bin = gst::Bin::new();
    let src = make("videotestsrc")?;
    src.set_property("is-live", true);
    src.set_property_from_str("pattern", "solid-color");
    src.set_property("foreground-color", 0xff30_3338u32);
    let caps = make("capsfilter")?;
    caps.set_property(
        "caps",
        gst::Caps::builder("video/x-raw")
            .field("format", "I420")
            .field("width", 320i32)
            .field("height", 180i32)
            .field("framerate", gst::Fraction::new(fps as i32, 1))
            .build(),
    );
    let split = split()?;
    let fit = fit_element()?;
    let text = name_overlay(name, "center")?;
    text.set_property_from_str("halignment", "center");
    bin.add_many([&src, &caps, &split, &fit, &text])?;
    gst::Element::link_many([&src, &caps, &split, &fit, &text])?;
    let pad = text.static_pad("src").ok_or_else(|| MediaError::Graph("textoverlay has no src pad".into()))?;
    bin.add_pad(&gst::GhostPad::with_target(&pad)?)?;
    Ok(bin)
}

#[cfg(test)]
mod tests {
    use super::Label;

    #[test]
    fn labels_say_the_states_in_text_and_in_escaped_markup() {
        let mut l = Label::new("Ada <3 & co");
        assert_eq!(l.text(), "Ada <3 & co");
        assert_eq!(l.markup(""), "Ada &lt;3 &amp; co");
        (l.muted, l.hand_raised, l.reconnecting) = (true, true, true);
        assert_eq!(l.text(), "☝ Ada <3 & co (muted) (reconnecting…)");
        let m = l.markup(" (video off)");
        assert!(m.starts_with("<span background=\"#fbbc04\" foreground=\"black\"> ☝ hand </span> Ada &lt;3 &amp; co "), "{m}");
        assert!(m.contains("<span background=\"#c5221f\" foreground=\"white\"> muted </span>"), "{m}");
        assert!(m.ends_with(" (reconnecting…) (video off)"), "{m}");
    }
}

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

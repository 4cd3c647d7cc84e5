//! The small-screen canvas (issue 23 §1b): the room composed again for a phone held upright
//! (`pipelines/small.pipeline`, laid out by [`crate::layout::small`]), one tile large and a few
//! small, from the tiles' decoded pictures taken at their [`tile::SPLIT`] tee (never decoded
//! twice), with names drawn on this canvas at a size a phone can read. The room's video graph
//! (`super::video`) starts it when a receiver first wants it and stops it once none of its
//! encoders is left; this module owns its elements and its links to the tiles it shows.
//!
//! Invariants: a tile is linked only while this canvas shows it. Unlinking releases the tile's
//! tee pad first (a tee ignores a released pad, so the tile's streaming thread never sees a
//! flushing branch and the main canvas keeps the tile), then the compositor pad, then the link's
//! queue. [`SmallCanvas::stop`] leaves no element, pad or ghost pad behind in the room's graph
//! or in any tile source.

use super::stage::{self, Placement, Stage};
use super::{MediaError, make, tile};
use crate::layout::{self, Rect};
use gstreamer as gst;
use gstreamer::prelude::*;

/// A tile the room could show: its id, the name to draw and the bin whose picture to show
/// (its source, or its cover while video-muted).
pub(super) struct Shown<'a> {
    pub id: &'a str,
    pub label: &'a str,
    pub source: &'a gst::Bin,
}

/// Who the small canvas shows large and outlines.
pub(super) struct Roles<'a> {
    /// The tile that takes the large place, if it is among the shown ones.
    pub large: Option<&'a str>,
    pub talking: &'a [String],
}

/// One tile's branch into this canvas: its tee's pad → ghost pad on the tile → ghost pad on
/// this canvas → queue → compositor pad.
struct Link {
    id: String,
    source: gst::Bin,
    split: gst::Element,
    split_pad: gst::Pad,
    ghost_out: Option<gst::GhostPad>,
    queue: gst::Element,
    ghost_in: Option<gst::GhostPad>,
    mix_pad: gst::Pad,
}

pub(super) struct SmallCanvas {
    bin: gst::Bin,
    mixer: gst::Element,
    tee: gst::Element,
    /// `label0` .. : the text each shows now (`None`: silent).
    labels: Vec<(gst::Element, Option<(String, Rect)>)>,
    stage: Stage,
    links: Vec<Link>,
    size: (u32, u32),
}

/// Text of one label, cut to fit a tile `width` pixels wide (Sans Bold 22: ~13 px a character).
fn fit(name: &str, width: i32) -> String {
    let max = usize::try_from((width - 12) / 13).unwrap_or(0).max(3);
    if name.chars().count() <= max { name.to_owned() } else { name.chars().take(max - 1).chain(['…']).collect() }
}

impl SmallCanvas {
    /// Builds `description` (the rendered `small.pipeline`, `size` its canvas) into `parent`
    /// and starts it; no tile is linked yet.
    pub fn start(parent: &gst::Bin, description: &str, size: (u32, u32)) -> Result<Self, MediaError> {
        let bin = gst::parse::bin_from_description(description, false)
            .map_err(|source| MediaError::Parse { name: "small.pipeline".into(), source })?;
        let named = |n: &str| bin.by_name(n).ok_or_else(|| MediaError::Graph(format!("small.pipeline has no element named `{n}`")));
        let mixer = named("mixer")?;
        let tee = named("composite")?;
        let labels = (0..=layout::SMALL_OTHERS).map(|i| named(&format!("label{i}")).map(|e| (e, None))).collect::<Result<Vec<_>, _>>()?;
        let stage = Stage::attach(&mixer);
        parent.add(&bin)?;
        if let Err(e) = bin.sync_state_with_parent() {
            let _ = bin.set_state(gst::State::Null);
            let _ = parent.remove(&bin);
            return Err(e.into());
        }
        Ok(Self { bin, mixer, tee, labels, stage, links: Vec::new(), size })
    }

    /// The bin encoder branches of this canvas are added to, and the tee they link to.
    pub fn encoder_parent(&self) -> (&gst::Bin, &gst::Element) {
        (&self.bin, &self.tee)
    }

    /// Tiles linked now (each shown).
    pub fn linked(&self) -> usize {
        self.links.len()
    }

    /// Shows `tiles` (in the room's tile order) as [`layout::small`] places them, the large
    /// one first: links the tiles newly shown, unlinks those no longer shown (or whose source
    /// changed), and queues the placement, labels and borders.
    pub fn show(&mut self, tiles: &[Shown], roles: &Roles) {
        let ids: Vec<&str> = tiles.iter().map(|t| t.id).collect();
        let talking: Vec<&str> = roles.talking.iter().map(String::as_str).collect();
        let order = layout::small_order(&ids, roles.large, &talking);
        let rects = layout::small(order.len(), self.size.0, self.size.1);
        let placed: Vec<(&Shown, Rect)> =
            order.iter().zip(rects).filter_map(|(id, r)| Some((tiles.iter().find(|t| t.id == *id)?, r?))).collect();
        // Unlink what is no longer shown, or shown from another bin (placeholder ↔ video).
        let stale: Vec<usize> = (0..self.links.len())
            .rev()
            .filter(|&i| {
                let l = &self.links[i];
                !placed.iter().any(|(t, _)| t.id == l.id && *t.source == l.source)
            })
            .collect();
        for i in stale {
            let l = self.links.remove(i);
            self.unlink(l);
        }
        let mut placements = Vec::with_capacity(placed.len());
        let mut borders = Vec::new();
        let mut texts: Vec<Option<(String, Rect)>> = vec![None; self.labels.len()];
        for (slot, (t, rect)) in placed.iter().enumerate() {
            if !self.links.iter().any(|l| l.id == t.id) {
                match self.link(t.id, t.source) {
                    Ok(l) => self.links.push(l),
                    Err(e) => {
                        tracing::warn!(tile = t.id, error = %e, "small canvas: could not link a tile");
                        continue;
                    }
                }
            }
            if let Some(l) = self.links.iter().find(|l| l.id == t.id) {
                placements.push(Placement { pad: l.mix_pad.clone(), rect: Some(*rect), zorder: 1 });
            }
            if let Some(text) = texts.get_mut(slot) {
                *text = Some((fit(t.label, rect.w), *rect));
            }
            if talking.contains(&t.id) {
                borders.push(*rect);
            }
        }
        self.stage.queue(placements, borders);
        let height = self.size.1 as i32;
        for ((element, now), want) in self.labels.iter_mut().zip(texts) {
            if *now == want {
                continue;
            }
            match &want {
                Some((text, r)) => {
                    element.set_property("text", tile::pango_escape(text));
                    element.set_property("deltax", r.x);
                    element.set_property("deltay", r.y + r.h - height);
                    element.set_property("silent", false);
                }
                None => element.set_property("silent", true),
            }
            *now = want;
        }
    }

    /// Branches `source`'s picture into this canvas, on a hidden compositor pad; on failure
    /// nothing of it is left.
    fn link(&self, id: &str, source: &gst::Bin) -> Result<Link, MediaError> {
        let split = source.by_name(tile::SPLIT).ok_or_else(|| MediaError::Graph(format!("tile {id} has no `{}` tee", tile::SPLIT)))?;
        let queue = make("queue")?;
        queue.set_property_from_str("leaky", "downstream");
        queue.set_property("max-size-buffers", 1u32);
        queue.set_property("max-size-bytes", 0u32);
        queue.set_property("max-size-time", 0u64);
        self.bin.add(&queue)?;
        let Some(mix_pad) = self.mixer.request_pad_simple("sink_%u") else {
            let _ = self.bin.remove(&queue);
            return Err(MediaError::Graph("the small canvas's compositor gave no sink pad".into()));
        };
        stage::hide_new_pad(&mix_pad);
        let Some(split_pad) = split.request_pad_simple("src_%u") else {
            self.mixer.release_request_pad(&mix_pad);
            let _ = self.bin.remove(&queue);
            return Err(MediaError::Graph(format!("tile {id}'s tee gave no src pad")));
        };
        let mut link =
            Link { id: id.to_owned(), source: source.clone(), split, split_pad, ghost_out: None, queue, ghost_in: None, mix_pad };
        match self.connect(&mut link) {
            Ok(()) => Ok(link),
            Err(e) => {
                self.unlink(link);
                Err(e)
            }
        }
    }

    /// The fallible part of [`SmallCanvas::link`]: the queue playing and linked to the
    /// compositor first, then the tile's branch into it (data flows from that moment).
    fn connect(&self, l: &mut Link) -> Result<(), MediaError> {
        let pad = |name: &str| l.queue.static_pad(name).ok_or_else(|| MediaError::Graph(format!("queue has no {name} pad")));
        l.queue.sync_state_with_parent()?;
        pad("src")?.link(&l.mix_pad)?;
        // Named: a bin's pads need distinct names (one per tile here, one per tile source).
        let ghost_in = gst::GhostPad::builder_with_target(&pad("sink")?)?.name(format!("tile-{}", l.id.replace('/', "-"))).build();
        ghost_in.set_active(true)?;
        self.bin.add_pad(&ghost_in)?;
        l.ghost_in = Some(ghost_in.clone());
        let ghost_out = gst::GhostPad::builder_with_target(&l.split_pad)?.name("small").build();
        ghost_out.set_active(true)?;
        l.source.add_pad(&ghost_out)?;
        l.ghost_out = Some(ghost_out.clone());
        ghost_out.link(&ghost_in)?;
        Ok(())
    }

    /// Takes one branch out, in the order the module's invariant gives.
    fn unlink(&self, l: Link) {
        l.split.release_request_pad(&l.split_pad);
        if let Some(g) = &l.ghost_out
            && g.parent().as_ref() == Some(l.source.upcast_ref::<gst::Object>())
        {
            let _ = l.source.remove_pad(g);
        }
        self.mixer.release_request_pad(&l.mix_pad);
        let _ = l.queue.set_state(gst::State::Null);
        if let Some(g) = &l.ghost_in {
            let _ = self.bin.remove_pad(g);
        }
        let _ = self.bin.remove(&l.queue);
    }

    /// Unlinks every tile and takes the canvas out of `parent` (its encoders must be gone).
    pub fn stop(mut self, parent: &gst::Bin) {
        for l in std::mem::take(&mut self.links) {
            self.unlink(l);
        }
        let _ = self.bin.set_state(gst::State::Null);
        let _ = parent.remove(&self.bin);
    }
}

#[cfg(test)]
mod tests {
    use super::fit;

    #[test]
    fn long_names_are_cut_to_their_tile() {
        assert_eq!(fit("Ada", 180), "Ada");
        assert_eq!(fit("Ada Lovelace of Ockham", 180), "Ada Lovelac…");
        assert_eq!(fit("Ada Lovelace", 20), "Ad…", "never fewer than three characters");
    }
}

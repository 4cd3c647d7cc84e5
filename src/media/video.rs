//! A room's video graph: the canvas from `composite.pipeline`, one tile per participant
//! (placeholder or ingest), the small-screen canvas composed from the same tiles while a
//! receiver wants it (`super::small`), and one encoder branch per codec and feed in use
//! (`feeds`: subscriptions, rungs, taps).
//!
//! Invariants: each participant has exactly one compositor sink pad on the main canvas while in
//! the room, and one on the small canvas while that canvas shows it; a removed participant
//! leaves no element behind ([`RoomVideo::element_count`] lets tests check); dropping a
//! `RoomVideo` sets its pipeline to `Null`.

mod feeds;
mod rest;

use super::bus::{self, BusMessages};
use super::encoder::EncoderBranch;
use super::ingest::{self, IngestBin, VideoIngest};
use super::ladder::{Feed, Receiver};
use super::pipelines::{Pipelines, render};
use super::small::{self, SmallCanvas};
use super::stage::{self, Placement, Stage};
use super::{MediaError, VideoCodec, tile};
use crate::layout::{self, Roles};
use crate::records::CompositeConfig;
use futures::StreamExt;
use gstreamer as gst;
use gstreamer::prelude::GstObjectExt;
use gstreamer::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A receiver's place on the composite's ladder, and the ladder.
pub struct VideoSubscription {
    pub receiver: Arc<Receiver>,
    /// Each rung's nominal bitrate, kbit/s, and size.
    pub nominal_kbps: [u32; 3],
    pub sizes: [(u32, u32); 3],
    /// The size a receiver of the small canvas gets at each rung.
    pub small_sizes: [(u32, u32); 3],
}

enum Source {
    Placeholder(gst::Bin),
    Video(IngestBin),
}

impl Source {
    fn bin(&self) -> &gst::Bin {
        match self {
            Source::Placeholder(b) => b,
            Source::Video(i) => &i.bin,
        }
    }
}

/// What the room wants shown: a layout by name and who holds its roles. Ids are participant
/// ids; the screen is named by its sharer's id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayoutChoice {
    pub layout: String,
    pub speaker: Option<String>,
    pub pinned: Option<String>,
    /// Whose screen is shared (its tile takes the `screen` slot).
    pub screen: Option<String>,
    /// Leave participants without video out of the canvas.
    pub hide_audio_only: bool,
    /// Participants talking now: their tiles get a border.
    pub talking: Vec<String>,
}

const SCREEN_SUFFIX: &str = "/screen";

/// The tile id of `owner`'s shared screen.
fn screen_tile(owner: &str) -> String {
    format!("{owner}{SCREEN_SUFFIX}")
}

/// Whose shared screen the tile `tile` is (`None` for a participant's own tile).
pub(super) fn screen_owner(tile: &str) -> Option<&str> {
    tile.strip_suffix(SCREEN_SUFFIX)
}

/// What a placeholder covering a participant's video adds to its label.
const VIDEO_OFF: &str = " (video off)";

struct Tile {
    /// The participant's id, or [`screen_tile`] of it.
    id: String,
    name: String,
    /// What its label says now (the name, or the name and its states), as plain text for the
    /// small canvas, and the states it is drawn from.
    label: String,
    marks: tile::Label,
    source: Source,
    pad: gst::Pad,
    /// A placeholder drawn over the video while the participant is video-muted.
    cover: Option<(gst::Bin, gst::Pad)>,
    /// Where the last relayout put it (`None`: not drawn).
    rect: Option<layout::Rect>,
    /// Whether its picture is cropped to fill `rect` (a grid cell) rather than fitted inside.
    fill: bool,
    /// The picture its camera should send for its cell (see [`RoomVideo::camera_tiles`]).
    camera: Option<(u32, u32)>,
}

/// The picture a cell needs: its own size, or, for a cell the picture is cropped to fill, the
/// 16:9 picture that covers it.
fn picture_for(cell: layout::Cell) -> (u32, u32) {
    let (w, h) = (cell.rect.w.unsigned_abs(), cell.rect.h.unsigned_abs());
    if cell.fill { (w.max(h * 16 / 9) & !1, h.max(w * 9 / 16) & !1) } else { (w, h) }
}

pub struct RoomVideo {
    pipeline: gst::Pipeline,
    /// The bin from `composite.pipeline`; tile sources and encoder branches are added to it so
    /// their pads can link to the compositor and the tee (pads link only within one bin).
    canvas: gst::Bin,
    mixer: gst::Element,
    tee: gst::Element,
    cfg: CompositeConfig,
    pipelines: Arc<Pipelines>,
    tiles: Vec<Tile>,
    /// Encoder branches by codec and feed; an idle one with the time its last receiver left.
    encoders: HashMap<(VideoCodec, Feed), EncoderBranch>,
    idle_since: HashMap<(VideoCodec, Feed), std::time::Instant>,
    /// Every receiver of the composite, by participant.
    receivers: HashMap<String, feeds::Subscriber>,
    /// The small-screen canvas, while any receiver takes it.
    small: Option<SmallCanvas>,
    /// The RTP timestamp offset every payloader of this room starts from.
    timestamp_offset: u32,
    /// Composite packets receivers could not take, over the room's life.
    dropped: Arc<AtomicU64>,
    stage: Stage,
    choice: LayoutChoice,
}

impl RoomVideo {
    /// Builds the canvas, resting (`PAUSED`) until something takes video (`rest.rs`); what its
    /// bus says comes out of the returned [`MediaEvents`] (watched from before the start, see
    /// [`super::bus`]).
    pub fn new(pipelines: Arc<Pipelines>, cfg: CompositeConfig) -> Result<(Self, MediaEvents), MediaError> {
        let pipeline = gst::Pipeline::new();
        let canvas = gst::parse::bin_from_description(&render(&pipelines.composite, &cfg.l0()), false)
            .map_err(|source| MediaError::Parse { name: Pipelines::FILES[0].into(), source })?;
        let mixer = canvas.by_name("mixer").ok_or_else(|| MediaError::Graph("composite.pipeline has no element named `mixer`".into()))?;
        let tee =
            canvas.by_name("composite").ok_or_else(|| MediaError::Graph("composite.pipeline has no element named `composite`".into()))?;
        pipeline.add(&canvas)?;
        let messages = bus::watch(&pipeline.bus().ok_or_else(|| MediaError::Graph("pipeline has no bus".into()))?);
        let stage = Stage::attach(&mixer);
        let choice = LayoutChoice { layout: "grid".into(), ..Default::default() };
        let video = Self {
            pipeline,
            canvas,
            mixer,
            tee,
            cfg,
            pipelines,
            tiles: Vec::new(),
            encoders: HashMap::new(),
            idle_since: HashMap::new(),
            receivers: HashMap::new(),
            small: None,
            timestamp_offset: rand::random(),
            dropped: Arc::default(),
            stage,
            choice,
        };
        // Nobody takes video yet: the canvas rests until someone does (`rest.rs`).
        video.settle(gst::State::Paused)?;
        Ok((video, MediaEvents::new(messages)))
    }

    /// Elements in the pipeline, recursively (bins included).
    pub fn element_count(&self) -> usize {
        self.pipeline.iterate_recurse().into_iter().filter(|e| e.is_ok()).count()
    }

    /// Re-distributes latency after an element's latency changed (bus `Latency` message).
    pub(super) fn recalculate_latency(&self) {
        let _ = self.pipeline.recalculate_latency();
    }

    pub fn tile_count(&self) -> usize {
        self.tiles.len()
    }

    pub fn encoder_count(&self) -> usize {
        self.encoders.len()
    }

    /// Composite packets that receivers could not take (each receiver's own loss).
    pub fn dropped_packets(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Adds `source` to the canvas on a new (hidden) compositor pad (on failure nothing of it is
    /// left in the graph), not started yet: the caller
    /// places and shapes it (`relayout`, `tile::fit`), then [`Self::start_source`]s it. Shaped
    /// while stopped, its first caps already have the cell's shape: an aspectratiocrop told its
    /// ratio while its first caps were being negotiated sometimes kept the whole picture (a name
    /// tile drawn 16:9, letterboxed in its 4:1 cell; seen in CI).
    fn link_source(&self, source: &gst::Bin) -> Result<gst::Pad, MediaError> {
        self.canvas.add(source)?;
        let pad = match self.mixer.request_pad_simple("sink_%u") {
            Some(p) => p,
            None => {
                let _ = self.canvas.remove(source);
                return Err(MediaError::Graph("compositor gave no sink pad".into()));
            }
        };
        stage::hide_new_pad(&pad);
        let linked = source.static_pad("src").ok_or_else(|| MediaError::Graph("tile source has no src pad".into())).and_then(|src| {
            src.link(&pad)?;
            Ok(())
        });
        match linked {
            Ok(()) => Ok(pad),
            Err(e) => {
                self.unlink_source(source, &pad);
                Err(e)
            }
        }
    }

    /// Starts a source [`Self::link_source`] added (once it is placed and shaped).
    fn start_source(source: &gst::Bin) -> Result<(), MediaError> {
        source.sync_state_with_parent()?;
        Ok(())
    }

    fn unlink_source(&self, source: &gst::Bin, pad: &gst::Pad) {
        // From here on the source's buffers are dropped, not refused: a push onto the released
        // pad would fail `not-linked` and post an error for the whole room (seen under load).
        if let Some(src) = source.static_pad("src") {
            src.add_probe(gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST, |_, _| gst::PadProbeReturn::Drop);
        }
        // Release the compositor pad first: a streaming thread blocked on it is woken (flushing)
        // instead of holding up the state change below.
        self.mixer.release_request_pad(pad);
        let _ = source.set_state(gst::State::Null);
        let _ = self.canvas.remove(source);
    }

    /// Re-computes every tile's place from the layout choice and queues it whole (applied by
    /// the compositor between two frames; see [`super::stage`]). Tiles whose video has not come
    /// (a placeholder) are named to the layout as such (the grid gives them name tiles); a tile
    /// covered by its placeholder (camera off, or muted by the host) keeps its cell, so a camera
    /// turned off for a moment moves nobody (and its picture is never cropped to a strip's
    /// shape: a VP8 input cropped to a name tile's strip failed with "Internal data stream
    /// error"). Each source's picture is cropped to its cell where the layout fills cells (the
    /// grid), else shown whole.
    fn relayout(&mut self) {
        let c = &self.choice;
        let shown: Vec<&Tile> = self
            .tiles
            .iter()
            .filter(|t| !c.hide_audio_only || screen_owner(&t.id).is_some() || matches!(t.source, Source::Video(_)))
            .collect();
        let ids: Vec<&str> = shown.iter().map(|t| t.id.as_str()).collect();
        let no_video: Vec<&str> = shown
            .iter()
            .filter(|t| screen_owner(&t.id).is_none() && matches!(t.source, Source::Placeholder(_)))
            .map(|t| t.id.as_str())
            .collect();
        let screen = c.screen.as_deref().map(screen_tile);
        let roles = Roles { speaker: c.speaker.as_deref(), pinned: c.pinned.as_deref(), screen: screen.as_deref(), no_video: &no_video };
        let variant = self.pipelines.layouts.variant(&c.layout, ids.len());
        let (w, h) = (self.cfg.width, self.cfg.height);
        let place = |roles: &Roles| match variant {
            Some(v) => layout::place_cells(v, &ids, roles, w, h),
            None => layout::grid(ids.len(), w, h).into_iter().map(|rect| Some(layout::Cell { rect, fill: true })).collect(),
        };
        let cells = place(&roles);
        // A camera not arrived yet is asked for the cell it will have once it has (not its name
        // tile's): the layout again, as if every camera had come.
        let camera_cells = if no_video.is_empty() { cells.clone() } else { place(&Roles { no_video: &[], ..roles }) };
        let of = |cells: &[Option<layout::Cell>], t: &Tile| ids.iter().position(|id| *id == t.id).and_then(|i| cells[i]);
        let cells: Vec<(Option<layout::Cell>, Option<layout::Cell>)> =
            self.tiles.iter().map(|t| (of(&cells, t), of(&camera_cells, t))).collect();
        let mut placements = Vec::with_capacity(self.tiles.len() * 2);
        let mut borders = Vec::new();
        for (t, (cell, camera_cell)) in self.tiles.iter_mut().zip(cells) {
            let rect = cell.map(|c| c.rect);
            // A shared screen is never cropped: every part of it may matter.
            let fill = cell.is_some_and(|c| c.fill) && screen_owner(&t.id).is_none();
            t.rect = rect;
            t.fill = fill;
            t.camera = camera_cell.map(picture_for);
            let aspect = tile::crop_for(rect, fill);
            tile::fit(t.source.bin(), aspect);
            placements.push(Placement { pad: t.pad.clone(), rect, zorder: 1 });
            if let Some((bin, pad)) = &t.cover {
                tile::fit(bin, aspect);
                placements.push(Placement { pad: pad.clone(), rect, zorder: 2 });
            }
            if let Some(r) = rect
                && c.talking.contains(&t.id)
            {
                borders.push(r);
            }
        }
        self.stage.queue(placements, borders);
        self.show_small();
    }

    /// Shows the room on the small canvas, if it runs: the tiles the main canvas may show, the
    /// shared screen large, else the pinned participant in the `pinned` layout, else the
    /// dominant speaker.
    fn show_small(&mut self) {
        let Some(small) = &mut self.small else { return };
        let c = &self.choice;
        let shown: Vec<small::Shown> = self
            .tiles
            .iter()
            .filter(|t| !c.hide_audio_only || screen_owner(&t.id).is_some() || matches!(t.source, Source::Video(_)))
            .map(|t| small::Shown { id: &t.id, label: &t.label, source: t.cover.as_ref().map_or(t.source.bin(), |(b, _)| b) })
            .collect();
        let screen = c.screen.as_deref().map(screen_tile);
        let pinned = c.pinned.as_deref().filter(|_| c.layout == "pinned");
        let large = [screen.as_deref(), pinned, c.speaker.as_deref()].into_iter().flatten().find(|id| shown.iter().any(|t| t.id == *id));
        small.show(&shown, &small::Roles { large, talking: &c.talking });
    }

    /// Shows the room as `choice` says (layout, roles, borders); no element is added or removed.
    pub fn set_layout(&mut self, choice: LayoutChoice) {
        if choice != self.choice {
            self.choice = choice;
            self.relayout();
        }
    }

    /// Each participant's camera tile: the size of picture it needs, or `None` while it is not
    /// drawn (left out of the layout) or covered by its placeholder (video muted by the host).
    /// A cell the picture is cropped to fill needs the 16:9 picture that covers it (a 426×360
    /// grid cell is cut from 640×360); a camera that has not arrived yet is asked for the cell it
    /// will have with video.
    pub fn camera_tiles(&self) -> impl Iterator<Item = (&str, Option<(u32, u32)>)> {
        self.tiles.iter().filter(|t| screen_owner(&t.id).is_none()).map(|t| (t.id.as_str(), t.camera.filter(|_| t.cover.is_none())))
    }

    /// Whether `id` sends video that is being decoded (not a placeholder).
    pub fn has_video(&self, id: &str) -> bool {
        self.tiles.iter().any(|t| t.id == id && matches!(t.source, Source::Video(_)))
    }

    /// Adds `owner`'s shared screen as a tile of its own ("<name>'s screen"), decoding its RTP.
    pub fn attach_screen(&mut self, owner: &str, codec: VideoCodec, payload_type: u8) -> Result<VideoIngest, MediaError> {
        self.detach_screen(owner);
        self.run_canvas()?;
        if self.tiles.len() >= layout::MAX_TILES {
            return Err(MediaError::Graph(format!("the canvas holds at most {} tiles", layout::MAX_TILES)));
        }
        let name = self.tiles.iter().find(|t| t.id == owner).map(|t| format!("{}'s screen", t.name)).unwrap_or_else(|| "Screen".into());
        let (bin, handle) = ingest::build(&name, codec, payload_type)?;
        let pad = self.link_source(&bin.bin)?;
        let source = bin.bin.clone();
        self.tiles.push(Tile {
            id: screen_tile(owner),
            label: name.clone(),
            marks: tile::Label::new(&name),
            name,
            source: Source::Video(bin),
            pad,
            cover: None,
            rect: None,
            fill: false,
            camera: None,
        });
        self.relayout();
        if let Err(e) = Self::start_source(&source) {
            self.detach_screen(owner);
            return Err(e);
        }
        Ok(handle)
    }

    /// Removes `owner`'s shared screen, if any.
    pub fn detach_screen(&mut self, owner: &str) {
        let id = screen_tile(owner);
        if let Some(idx) = self.tiles.iter().position(|t| t.id == id) {
            let t = self.tiles.remove(idx);
            // Re-laid out first: the small canvas lets go of the tile before it is taken out.
            self.relayout();
            self.unlink_source(t.source.bin(), &t.pad);
            self.rest_canvas_if_unused();
        }
    }

    /// Gives `id` a placeholder tile and re-tiles.
    pub fn add_participant(&mut self, id: &str, name: &str) -> Result<(), MediaError> {
        if self.tiles.len() >= layout::MAX_TILES {
            return Err(MediaError::Graph(format!("the canvas holds at most {} tiles", layout::MAX_TILES)));
        }
        let bin = tile::placeholder(name, self.cfg.fps)?;
        let pad = self.link_source(&bin)?;
        self.tiles.push(Tile {
            id: id.into(),
            name: name.into(),
            label: name.into(),
            marks: tile::Label::new(name),
            source: Source::Placeholder(bin.clone()),
            pad: pad.clone(),
            cover: None,
            rect: None,
            fill: false,
            camera: None,
        });
        self.relayout();
        if let Err(e) = Self::start_source(&bin) {
            self.tiles.retain(|t| t.id != id);
            self.relayout();
            self.unlink_source(&bin, &pad);
            return Err(e);
        }
        Ok(())
    }

    fn swap_source(&mut self, id: &str, new: Source) -> Result<(), MediaError> {
        let idx = self.tiles.iter().position(|t| t.id == id).ok_or_else(|| MediaError::Graph(format!("no tile for {id}")))?;
        let pad = self.link_source(new.bin())?;
        stage::copy_placement(&self.tiles[idx].pad, &pad);
        let name = self.tiles[idx].name.clone();
        let cover = self.tiles[idx].cover.take();
        let (rect, fill, camera) = (self.tiles[idx].rect, self.tiles[idx].fill, self.tiles[idx].camera);
        tile::fit(new.bin(), tile::crop_for(rect, fill));
        // The new source's label says what the old one did (states included).
        let (label, marks) = (self.tiles[idx].label.clone(), self.tiles[idx].marks.clone());
        tile::relabel(new.bin(), &marks.markup(""));
        let started = new.bin().clone();
        let tile = Tile { id: id.into(), label, marks, name, source: new, pad, cover, rect, fill, camera };
        let old = std::mem::replace(&mut self.tiles[idx], tile);
        self.relayout();
        self.unlink_source(old.source.bin(), &old.pad);
        Self::start_source(&started)
    }

    /// Replaces `id`'s tile source with a decoder for its RTP video.
    pub fn attach_video(&mut self, id: &str, codec: VideoCodec, payload_type: u8) -> Result<VideoIngest, MediaError> {
        let name = self.tiles.iter().find(|t| t.id == id).map(|t| t.name.clone()).unwrap_or_default();
        self.run_canvas()?;
        let (bin, handle) = ingest::build(&name, codec, payload_type)?;
        self.swap_source(id, Source::Video(bin))?;
        Ok(handle)
    }

    /// Puts `id` back on a placeholder (its input failed or ended).
    pub fn detach_video(&mut self, id: &str) -> Result<(), MediaError> {
        let Some(t) = self.tiles.iter().find(|t| t.id == id) else { return Ok(()) };
        if matches!(t.source, Source::Placeholder(_)) {
            return Ok(());
        }
        let bin = tile::placeholder(&t.name.clone(), self.cfg.fps)?;
        self.swap_source(id, Source::Placeholder(bin))?;
        self.rest_canvas_if_unused();
        Ok(())
    }

    /// Covers `id`'s tile with its placeholder (video muted by the host) or uncovers it. The
    /// input keeps decoding underneath, so unmuting shows the picture at once.
    pub fn set_covered(&mut self, id: &str, covered: bool) -> Result<(), MediaError> {
        let idx = self.tiles.iter().position(|t| t.id == id).ok_or_else(|| MediaError::Graph(format!("no tile for {id}")))?;
        match (covered, self.tiles[idx].cover.is_some()) {
            (true, false) => {
                let bin = tile::placeholder(&format!("{} (video off)", self.tiles[idx].name), self.cfg.fps)?;
                tile::relabel(&bin, &self.tiles[idx].marks.markup(VIDEO_OFF));
                let pad = self.link_source(&bin)?;
                self.tiles[idx].cover = Some((bin.clone(), pad));
                self.relayout();
                Self::start_source(&bin)?;
            }
            (false, true) => {
                if let Some((bin, pad)) = self.tiles[idx].cover.take() {
                    // Re-laid out: the video's own placement again (the cover had its cell).
                    self.relayout();
                    self.unlink_source(&bin, &pad);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Changes the label drawn on `id`'s tile (its name and states, see [`tile::Label`]) and
    /// on its cover; the picture under it is untouched. A new source (placeholder ↔ video) is
    /// labelled the same.
    pub fn set_label(&mut self, id: &str, label: &tile::Label) {
        let Some(t) = self.tiles.iter_mut().find(|t| t.id == id) else { return };
        if t.marks == *label {
            return;
        }
        t.label = label.text();
        t.marks = label.clone();
        tile::relabel(t.source.bin(), &label.markup(""));
        if let Some((cover, _)) = &t.cover {
            tile::relabel(cover, &label.markup(VIDEO_OFF));
        }
        self.show_small();
    }

    /// Removes `id`'s tile and subscriptions, and re-tiles.
    pub fn remove_participant(&mut self, id: &str) {
        if let Some(idx) = self.tiles.iter().position(|t| t.id == id) {
            let mut t = self.tiles.remove(idx);
            self.relayout();
            if let Some((bin, pad)) = t.cover.take() {
                self.unlink_source(&bin, &pad);
            }
            self.unlink_source(t.source.bin(), &t.pad);
        }
        self.detach_screen(id);
        self.unsubscribe(id);
        self.rest_canvas_if_unused();
    }

    /// Whether `obj` is still part of this room's pipeline. A bus message may come from a tile
    /// source that was taken out after it posted.
    pub(super) fn contains(&self, obj: &gst::Object) -> bool {
        let mut cur = Some(obj.clone());
        while let Some(o) = cur {
            if &o == self.pipeline.upcast_ref::<gst::Object>() {
                return true;
            }
            cur = o.parent();
        }
        false
    }

    /// Which participant's tile the object `obj` (a bus message source) belongs to.
    pub(super) fn owner_of(&self, obj: &gst::Object) -> Option<String> {
        let mut cur = Some(obj.clone());
        while let Some(o) = cur {
            if let Some(t) = self.tiles.iter().find(|t| t.source.bin().upcast_ref::<gst::Object>() == &o) {
                return Some(t.id.clone());
            }
            cur = o.parent();
        }
        None
    }
}

impl Drop for RoomVideo {
    fn drop(&mut self) {
        for (_, feed) in self.encoders.keys() {
            crate::metrics::rung_encoders(feed.name(), -1.0);
        }
        if self.small.is_some() {
            crate::metrics::small_canvases(-1.0);
        }
        if self.canvas_running() {
            crate::metrics::canvases_running(-1.0);
        }
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// Something a room's media tells the room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// A participant's input could not be decoded: their camera (`screen: false`; its tile
    /// should show the placeholder again) or their shared screen.
    InputFailed { participant: String, screen: bool, error: String },
    /// The room's own graph failed (an element that is no participant's input).
    Failed { element: String, error: String, debug: Option<String> },
}

/// A room pipeline's bus, read as [`MediaEvent`]s.
pub struct MediaEvents(BusMessages);

impl MediaEvents {
    fn new(messages: BusMessages) -> Self {
        Self(messages)
    }

    /// The next event for the room, `video` being the graph the bus belongs to; every other
    /// message is handled on the way (a latency change re-distributes latency; warnings and
    /// errors from elements already taken out of the room are only logged). `None` once the
    /// bus is closed.
    pub async fn next_event(&mut self, video: &RoomVideo) -> Option<MediaEvent> {
        loop {
            let msg = self.0.next().await?;
            if let Some(event) = event_of(&msg, video) {
                return Some(event);
            }
        }
    }
}

/// What `msg` means for the room, if anything.
fn event_of(msg: &gst::Message, video: &RoomVideo) -> Option<MediaEvent> {
    use gst::MessageView;
    match msg.view() {
        MessageView::Error(err) if msg.src().is_some_and(|s| !video.contains(s)) => {
            tracing::debug!(error = %err.error(), "error from an element already taken out of the room; ignored");
            None
        }
        MessageView::Error(err) => {
            let error = err.error().to_string();
            Some(match msg.src().and_then(|s| video.owner_of(s)) {
                Some(tile) => match screen_owner(&tile) {
                    Some(owner) => MediaEvent::InputFailed { participant: owner.to_owned(), screen: true, error },
                    None => MediaEvent::InputFailed { participant: tile, screen: false, error },
                },
                None => MediaEvent::Failed {
                    element: msg.src().map(|s| s.path_string().to_string()).unwrap_or_default(),
                    error,
                    debug: err.debug().map(|d| d.to_string()),
                },
            })
        }
        MessageView::Warning(w) => {
            tracing::debug!(warning = %w.error(), "media warning");
            None
        }
        MessageView::Latency(_) => {
            video.recalculate_latency();
            None
        }
        _ => None,
    }
}

#[cfg(test)]
#[path = "video_tests.rs"]
mod rung_tests;

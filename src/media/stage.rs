//! Moving tiles without a torn frame: layout changes are queued and applied by the compositor's
//! own thread between two output frames (its `samples-selected` signal), all pads at once; and
//! the talking participants' tiles get a border painted into the composite as it leaves the
//! compositor (so receivers, recordings and live outputs all see it).
//!
//! Invariants: a queued change is applied whole before the next frame is composed, never half;
//! a pad added to the compositor stays invisible (alpha 0) until its first placement is applied.

use crate::layout::Rect;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_video as gst_video;
use gstreamer_video::prelude::*;
use parking_lot::Mutex;
use std::sync::Arc;

/// Where one compositor pad goes: a rectangle and stacking order, or hidden.
pub(crate) struct Placement {
    pub pad: gst::Pad,
    pub rect: Option<Rect>,
    pub zorder: u32,
}

#[derive(Default)]
struct Shared {
    /// The next change, applied by the compositor thread.
    pending: Option<(Vec<Placement>, Vec<Rect>)>,
    /// Borders painted on every frame.
    borders: Vec<Rect>,
}

/// Border width in pixels (even, for I420 chroma).
const BORDER: i32 = 4;
/// Bright yellow in BT.601 YUV.
const BORDER_YUV: [u8; 3] = [210, 16, 146];

pub(crate) struct Stage {
    shared: Arc<Mutex<Shared>>,
}

impl Stage {
    /// Hooks into `mixer` (a compositor): applies queued changes before each frame and paints
    /// borders on its output (only if it is I420, as `composite.pipeline` ships; an edited
    /// pipeline with another format gets no borders rather than garbled colours).
    pub fn attach(mixer: &gst::Element) -> Self {
        let shared: Arc<Mutex<Shared>> = Arc::default();
        mixer.set_property("emit-signals", true);
        let s = shared.clone();
        mixer.connect("samples-selected", false, move |_| {
            let pending = {
                let mut g = s.lock();
                let p = g.pending.take();
                if let Some((_, borders)) = &p {
                    g.borders = borders.clone();
                }
                p
            };
            if let Some((placements, _)) = pending {
                for p in placements {
                    apply(&p);
                }
            }
            None
        });
        if let Some(src) = mixer.static_pad("src") {
            let s = shared.clone();
            src.add_probe(gst::PadProbeType::BUFFER, move |pad, probe| {
                let borders = s.lock().borders.clone();
                if borders.is_empty() {
                    return gst::PadProbeReturn::Ok;
                }
                let info = pad
                    .current_caps()
                    .and_then(|c| gst_video::VideoInfo::from_caps(&c).ok())
                    .filter(|i| i.format() == gst_video::VideoFormat::I420);
                if let (Some(info), Some(gst::PadProbeData::Buffer(buf))) = (&info, probe.data.as_mut()) {
                    let buf = buf.make_mut();
                    if let Ok(mut frame) = gst_video::VideoFrameRef::from_buffer_ref_writable(buf, info) {
                        for r in &borders {
                            paint_border(&mut frame, *r);
                        }
                    }
                }
                gst::PadProbeReturn::Ok
            });
        }
        Self { shared }
    }

    /// Queues a whole layout (replacing one not yet applied) and the tiles to outline.
    pub fn queue(&self, placements: Vec<Placement>, borders: Vec<Rect>) {
        // A change not yet applied still holds pads the new one may no longer list (a removed
        // tile): those are released anyway, so dropping the old change is safe.
        self.shared.lock().pending = Some((placements, borders));
    }
}

/// Hides a freshly requested compositor pad until its first placement is applied.
pub(crate) fn hide_new_pad(pad: &gst::Pad) {
    pad.set_property("alpha", 0.0f64);
}

/// Gives `to` (a pad taking over a tile) `from`'s current place, so the tile does not vanish
/// for a frame while the layout is re-applied.
pub(crate) fn copy_placement(from: &gst::Pad, to: &gst::Pad) {
    for name in ["xpos", "ypos", "width", "height", "zorder", "sizing-policy", "alpha"] {
        to.set_property_from_value(name, &from.property_value(name));
    }
}

fn apply(p: &Placement) {
    match p.rect {
        Some(r) => {
            p.pad.set_property("xpos", r.x);
            p.pad.set_property("ypos", r.y);
            p.pad.set_property("width", r.w);
            p.pad.set_property("height", r.h);
            p.pad.set_property("zorder", p.zorder);
            p.pad.set_property_from_str("sizing-policy", "keep-aspect-ratio");
            p.pad.set_property("alpha", 1.0f64);
        }
        None => p.pad.set_property("alpha", 0.0f64),
    }
}

/// Fills `r`'s outer [`BORDER`] pixels with the border colour, clipped to the frame.
fn paint_border(frame: &mut gst_video::VideoFrameRef<&mut gst::BufferRef>, r: Rect) {
    let (fw, fh) = (frame.width() as i32, frame.height() as i32);
    let bands = [
        Rect { x: r.x, y: r.y, w: r.w, h: BORDER },
        Rect { x: r.x, y: r.y + r.h - BORDER, w: r.w, h: BORDER },
        Rect { x: r.x, y: r.y, w: BORDER, h: r.h },
        Rect { x: r.x + r.w - BORDER, y: r.y, w: BORDER, h: r.h },
    ];
    for (plane, value) in BORDER_YUV.iter().enumerate() {
        let shift = if plane == 0 { 0 } else { 1 };
        let stride = frame.plane_stride()[plane] as usize;
        let Ok(data) = frame.plane_data_mut(plane as u32) else { continue };
        for b in &bands {
            let (x0, x1) = (b.x.clamp(0, fw) >> shift, (b.x + b.w).clamp(0, fw) >> shift);
            let (y0, y1) = (b.y.clamp(0, fh) >> shift, (b.y + b.h).clamp(0, fh) >> shift);
            for y in y0..y1 {
                let row = y as usize * stride;
                if let Some(line) = data.get_mut(row + x0 as usize..row + x1 as usize) {
                    line.fill(*value);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borders_are_painted_inside_the_rect_only() {
        gst::init().unwrap();
        let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, 64, 32).build().unwrap();
        let mut buf = gst::Buffer::with_size(info.size()).unwrap();
        {
            let b = buf.get_mut().unwrap();
            let mut f = gst_video::VideoFrameRef::from_buffer_ref_writable(b, &info).unwrap();
            for p in 0..3 {
                f.plane_data_mut(p).unwrap().fill(0);
            }
            paint_border(&mut f, Rect { x: 8, y: 8, w: 16, h: 16 });
            let y = f.plane_data(0).unwrap().to_vec();
            let stride = f.plane_stride()[0] as usize;
            assert_eq!(y[8 * stride + 8], BORDER_YUV[0], "top-left corner");
            assert_eq!(y[(8 + 15) * stride + 8 + 15], BORDER_YUV[0], "bottom-right corner");
            assert_eq!(y[16 * stride + 16], 0, "the inside stays");
            assert_eq!(y[7 * stride + 8], 0, "outside stays");
            assert_eq!(y[8 * stride + 24], 0, "right of it stays");
            // Clipped at the frame's edge without panicking.
            paint_border(&mut f, Rect { x: 56, y: 24, w: 16, h: 16 });
        }
    }
}

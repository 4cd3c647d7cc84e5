//! Placing tiles: a variant's slots filled by role, the rest arranged in the `rest` area.
//!
//! In a `rest` area arranged as a grid, tiles without video (audio-only participants, or a
//! camera covered by its placeholder) are compact name tiles: a strip of short cells at the
//! bottom of the area ([`NAME_ROW`] of its height per line of names), while the tiles with video
//! share the rest of it. Only while someone there has video: a room of audio-only people is a
//! plain grid of name tiles.
//!
//! Invariant (besides the module's): grid cells and name tiles are *filled* (the media layer
//! crops the picture to the cell, [`Cell::fill`]); role slots and row/column strips keep the
//! picture's aspect inside the cell, as they always did.

use super::grid::grid_in;
use super::{Arrange, Rect, Role, Variant};

/// A line of name tiles takes this share of the `rest` area's height (72 px of 720).
pub const NAME_ROW: f64 = 0.1;
/// A name tile is at most this many times as wide as it is high.
const NAME_WIDEST: i32 = 4;
/// Names are put in lines of at most one per this many row heights of width (5 on 1280×720).
const NAME_PITCH: i32 = 3;
/// The name strip takes at most half of the area.
const NAME_STRIP_MAX: f64 = 0.5;
/// Pixels between two name tiles (the grey tiles would run into one bar otherwise).
const NAME_GAP: i32 = 4;

/// Where a tile goes and how its picture is fitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    pub rect: Rect,
    /// The picture is cropped to the cell's shape and fills it (grid cells, name tiles); else
    /// it keeps its aspect inside the cell (bars beside or above it).
    pub fill: bool,
}

/// Who holds each role now (participant or tile ids); `None` when nobody does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Roles<'a> {
    /// The dominant speaker.
    pub speaker: Option<&'a str>,
    /// The participant the host pinned.
    pub pinned: Option<&'a str>,
    /// The shared screen's tile.
    pub screen: Option<&'a str>,
    /// Tiles without video (no camera, or one covered by its placeholder): compact name tiles
    /// in a grid area while others there have video.
    pub no_video: &'a [&'a str],
}

impl<'a> Roles<'a> {
    /// Who a slot of `role` wants, best first.
    fn candidates(&self, role: Role) -> [Option<&'a str>; 3] {
        match role {
            Role::Floor => [self.speaker, self.pinned, None],
            Role::Pinned => [self.pinned, self.speaker, None],
            Role::Screen => [self.screen, self.pinned, self.speaker],
            Role::Rest => [None; 3],
        }
    }
}

/// An even pixel edge for the normalised coordinate `v` on a side of `total` pixels.
fn edge(v: f64, total: u32) -> i32 {
    let px = (v * f64::from(total)).round() as i32;
    if px >= total as i32 { total as i32 } else { px & !1 }
}

fn slot_rect(x: f64, y: f64, w: f64, h: f64, width: u32, height: u32) -> Rect {
    let (x0, y0) = (edge(x, width), edge(y, height));
    let (x1, y1) = (edge(x + w, width), edge(y + h, height));
    Rect { x: x0, y: y0, w: x1 - x0, h: y1 - y0 }
}

/// `n` equal 16:9 cells along a row (or a column), centred in `area`.
fn strip(area: Rect, n: usize, row: bool) -> Vec<Rect> {
    if n == 0 {
        return Vec::new();
    }
    let k = n as i32;
    if row {
        let w = (area.w / k).min(area.h * 16 / 9) & !1;
        let x0 = area.x + (((area.w - w * k) / 2) & !1);
        (0..k).map(|i| Rect { x: x0 + i * w, y: area.y, w, h: area.h }).collect()
    } else {
        let h = (area.h / k).min(area.w * 9 / 16) & !1;
        let y0 = area.y + (((area.h - h * k) / 2) & !1);
        (0..k).map(|i| Rect { x: area.x, y: y0 + i * h, w: area.w, h }).collect()
    }
}

/// Lines of `n` name tiles at the bottom of `area`, balanced and centred: the name tiles'
/// rectangles and the height the strip takes.
fn name_strip(area: Rect, n: usize) -> (Vec<Rect>, i32) {
    if n == 0 {
        return (Vec::new(), 0);
    }
    let mut line_h = ((f64::from(area.h) * NAME_ROW) as i32 & !1).max(2);
    let per_line = (area.w / (line_h * NAME_PITCH)).max(1) as usize;
    let lines = n.div_ceil(per_line);
    let most = (f64::from(area.h) * NAME_STRIP_MAX) as i32;
    if line_h * lines as i32 > most {
        line_h = (most / lines as i32) & !1;
    }
    let strip_h = line_h * lines as i32;
    let top = area.y + area.h - strip_h;
    let mut out = Vec::with_capacity(n);
    for l in 0..lines {
        let k = (n / lines + usize::from(l < n % lines)) as i32;
        let slot = (area.w / k) & !1;
        let w = ((slot - NAME_GAP).min(line_h * NAME_WIDEST) & !1).max(0);
        let h = (line_h - NAME_GAP).max(0) & !1;
        let left = area.x + (((area.w - slot * k) / 2) & !1) + (((slot - w) / 2) & !1);
        let y = top + l as i32 * line_h + NAME_GAP / 2;
        out.extend((0..k).map(|c| Rect { x: left + c * slot, y, w, h }));
    }
    (out, strip_h)
}

/// A rectangle for each of `tiles` (ids in display order), in the same order; `None` for tiles
/// beyond what the variant can show, and for any cell under 2×2 pixels (a tiny slot of an
/// edited `layouts.json` on a small canvas: hidden rather than drawn at the input's own size). Single slots take their role's holder (or, if
/// nobody holds it, the first tile not yet placed); the `rest` area takes everyone else.
pub fn place(variant: &Variant, tiles: &[&str], roles: &Roles, width: u32, height: u32) -> Vec<Option<Rect>> {
    place_cells(variant, tiles, roles, width, height).into_iter().map(|c| c.map(|c| c.rect)).collect()
}

/// [`place`], with how each picture fits its cell.
pub fn place_cells(variant: &Variant, tiles: &[&str], roles: &Roles, width: u32, height: u32) -> Vec<Option<Cell>> {
    let mut out: Vec<Option<Cell>> = vec![None; tiles.len()];
    let mut rest_area = None;
    for s in &variant.slots {
        let rect = slot_rect(s.x, s.y, s.w, s.h, width, height);
        if s.role == Role::Rest {
            rest_area = Some((rect, s.arrange));
            continue;
        }
        let wanted =
            roles.candidates(s.role).into_iter().flatten().find_map(|id| tiles.iter().position(|t| *t == id).filter(|&i| out[i].is_none()));
        if let Some(i) = wanted.or_else(|| out.iter().position(Option::is_none)) {
            out[i] = Some(Cell { rect, fill: false });
        }
    }
    if let Some((area, arrange)) = rest_area {
        let left: Vec<usize> = (0..tiles.len()).filter(|&i| out[i].is_none()).collect();
        let fill = arrange == Arrange::Grid;
        let (named, seen): (Vec<usize>, Vec<usize>) = left.iter().partition(|&&i| roles.no_video.contains(&tiles[i]));
        let (order, rects) = match arrange {
            Arrange::Grid if !named.is_empty() && !seen.is_empty() => {
                let (names, strip_h) = name_strip(area, named.len());
                let mut rects = grid_in(Rect { h: area.h - strip_h, ..area }, seen.len());
                rects.extend(names);
                ([seen, named].concat(), rects)
            }
            Arrange::Grid => (left.clone(), grid_in(area, left.len())),
            Arrange::Row => (left.clone(), strip(area, left.len(), true)),
            Arrange::Column => (left.clone(), strip(area, left.len(), false)),
        };
        for (i, rect) in order.into_iter().zip(rects) {
            out[i] = Some(Cell { rect, fill });
        }
    }
    for c in out.iter_mut() {
        if c.is_some_and(|c| c.rect.w < 2 || c.rect.h < 2) {
            *c = None;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::{Layouts, MAX_TILES};
    use super::*;
    use std::path::Path;

    fn shipped() -> Layouts {
        Layouts::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines")).unwrap()
    }

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("p{i}")).collect()
    }

    fn apart(a: &Rect, b: &Rect) -> bool {
        a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y
    }

    #[test]
    fn every_shipped_layout_places_every_tile_on_canvas_without_overlap() {
        let l = shipped();
        let names: Vec<String> = l.names().map(str::to_owned).collect();
        for name in &names {
            for n in 1..=MAX_TILES {
                let ids = ids(n);
                let tiles: Vec<&str> = ids.iter().map(String::as_str).collect();
                let roles = Roles { speaker: Some("p1"), pinned: Some("p2"), screen: Some("p0"), no_video: &["p3", "p5"] };
                let rects = place(l.variant(name, n).unwrap(), &tiles, &roles, 1280, 720);
                assert!(rects.iter().all(Option::is_some), "{name} n={n}: a tile has no place");
                let rects: Vec<Rect> = rects.into_iter().flatten().collect();
                for (i, a) in rects.iter().enumerate() {
                    assert!(a.x >= 0 && a.y >= 0 && a.x + a.w <= 1280 && a.y + a.h <= 720 && a.w > 0 && a.h > 0, "{name} n={n}: {a:?}");
                    assert!(a.x % 2 == 0 && a.y % 2 == 0, "{name} n={n}: odd edge {a:?}");
                    for b in &rects[i + 1..] {
                        assert!(apart(a, b), "{name} n={n}: {a:?} overlaps {b:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn roles_take_the_big_slot_and_fall_back_in_order() {
        let l = shipped();
        let tiles = ["a", "b", "c", "d"];
        let area = |r: &Option<Rect>| r.map(|r| r.w * r.h).unwrap_or(0);
        let biggest = |rects: &[Option<Rect>]| (0..rects.len()).max_by_key(|&i| area(&rects[i])).unwrap();

        let speaker = place(l.variant("speaker", 4).unwrap(), &tiles, &Roles { speaker: Some("c"), ..Default::default() }, 1280, 720);
        assert_eq!(biggest(&speaker), 2);
        // Nobody speaking yet: the first tile holds the floor.
        let nobody = place(l.variant("speaker", 4).unwrap(), &tiles, &Roles::default(), 1280, 720);
        assert_eq!(biggest(&nobody), 0);
        let pinned = place(
            l.variant("pinned", 4).unwrap(),
            &tiles,
            &Roles { speaker: Some("c"), pinned: Some("d"), ..Default::default() },
            1280,
            720,
        );
        assert_eq!(biggest(&pinned), 3);
        // Pinned with nobody pinned follows the speaker.
        let unpinned = place(l.variant("pinned", 4).unwrap(), &tiles, &Roles { speaker: Some("b"), ..Default::default() }, 1280, 720);
        assert_eq!(biggest(&unpinned), 1);
        let screen = place(
            l.variant("presentation", 4).unwrap(),
            &tiles,
            &Roles { speaker: Some("c"), screen: Some("d"), ..Default::default() },
            1280,
            720,
        );
        assert_eq!(biggest(&screen), 3);
        // The screen slot is most of the canvas.
        assert!(area(&screen[3]) * 2 > 1280 * 720, "{:?}", screen[3]);
    }

    #[test]
    fn tiny_cells_are_hidden_never_spilled() {
        // 26 tiles in a 38 px wide row: cells under 2 px are hidden, none leaves its area.
        let r = strip(Rect { x: 100, y: 0, w: 38, h: 20 }, 26, true);
        assert!(r.iter().all(|c| c.x >= 100 && c.x + c.w <= 138), "{r:?}");
        let v = Variant {
            max_tiles: 26,
            slots: vec![super::super::Slot { role: Role::Rest, x: 0.5, y: 0.0, w: 0.03, h: 0.03, arrange: Arrange::Row }],
        };
        let ids = ids(26);
        let tiles: Vec<&str> = ids.iter().map(String::as_str).collect();
        let placed = place(&v, &tiles, &Roles::default(), 1280, 720);
        assert!(placed.iter().all(|r| r.is_none_or(|r| r.w >= 2 && r.h >= 2 && r.x >= 640)), "{placed:?}");
        let grid = grid_in(Rect { x: 0, y: 0, w: 4, h: 4 }, 26);
        let placed = place(
            &Variant {
                max_tiles: 26,
                slots: vec![super::super::Slot { role: Role::Rest, x: 0.0, y: 0.0, w: 0.003, h: 0.005, arrange: Arrange::Grid }],
            },
            &tiles,
            &Roles::default(),
            1280,
            720,
        );
        let kept: Vec<Rect> = placed.into_iter().flatten().collect();
        assert!(kept.iter().all(|r| r.w >= 2 && r.h >= 2), "{grid:?} {kept:?}");
        for (i, a) in kept.iter().enumerate() {
            assert!(kept[i + 1..].iter().all(|b| apart(a, b)), "{kept:?}");
        }
    }

    #[test]
    fn strips_are_centred_16_by_9_cells() {
        let r = strip(Rect { x: 0, y: 540, w: 1280, h: 180 }, 2, true);
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].w, r[0].h), (320, 180));
        assert_eq!(r[0].x, 320);
        assert_eq!(r[1].x, 640);
        let c = strip(Rect { x: 960, y: 0, w: 320, h: 720 }, 3, false);
        assert_eq!(c.iter().map(|r| r.h).collect::<Vec<_>>(), vec![180, 180, 180]);
        assert_eq!(c[0].y, 90);
    }

    #[test]
    fn people_without_video_are_a_strip_of_name_tiles_under_the_grid() {
        let l = shipped();
        let tiles = ["a", "b", "c", "d", "e", "f", "g"];
        let roles = Roles { no_video: &["b", "f", "g"], ..Default::default() };
        let cells = place_cells(l.variant("grid", tiles.len()).unwrap(), &tiles, &roles, 1280, 720);
        let cells: Vec<Cell> = cells.into_iter().map(|c| c.expect("every tile is placed")).collect();
        assert!(cells.iter().all(|c| c.fill), "grid cells and name tiles are filled");
        // Four with video share 1280×648 (2 + 2 cells of 576×324, 16:9, centred), the three names a
        // 72 px line at the bottom: 288×68 tiles (4:1) centred in 426 px slots.
        let video = [cells[0].rect, cells[2].rect, cells[3].rect, cells[4].rect];
        for r in video {
            assert_eq!((r.w, r.h), (576, 324), "{r:?}");
            assert!(r.y + r.h <= 648, "{r:?} above the names");
        }
        assert_eq!(video[0].x, 64, "the grid is centred: {video:?}");
        for i in [1, 5, 6] {
            let r = cells[i].rect;
            assert_eq!((r.w, r.h, r.y), (288, 68, 650), "{i}: {r:?}");
        }
        let names = [cells[1].rect, cells[5].rect, cells[6].rect];
        let (left, right) = (names[0].x, 1280 - names[2].x - names[2].w);
        assert!(left.abs_diff(right) <= 4, "the names are centred (to the even pixel): {names:?}");
        let all: Vec<Rect> = cells.iter().map(|c| c.rect).collect();
        for (i, a) in all.iter().enumerate() {
            assert!(all[i + 1..].iter().all(|b| apart(a, b)), "{all:?}");
        }
        // Nobody with video: the plain grid of (full-size) name tiles.
        let everyone = Roles { no_video: &tiles, ..Default::default() };
        let plain = place(l.variant("grid", tiles.len()).unwrap(), &tiles, &everyone, 1280, 720);
        let grid: Vec<Option<Rect>> = grid_in(Rect { x: 0, y: 0, w: 1280, h: 720 }, 7).into_iter().map(Some).collect();
        assert_eq!(plain, grid);
        // Role slots keep their picture's aspect; the speaker's rest row too.
        let speaker = place_cells(l.variant("speaker", 4).unwrap(), &tiles[..4], &roles, 1280, 720);
        assert!(speaker.iter().all(|c| c.is_some_and(|c| !c.fill)), "{speaker:?}");
    }

    #[test]
    fn a_long_list_of_names_wraps_and_stays_under_half_the_area() {
        let ids = ids(MAX_TILES);
        let tiles: Vec<&str> = ids.iter().map(String::as_str).collect();
        let roles = Roles { no_video: &tiles[1..], ..Default::default() };
        let cells = place(shipped().variant("grid", MAX_TILES).unwrap(), &tiles, &roles, 1280, 720);
        let rects: Vec<Rect> = cells.into_iter().map(|c| c.expect("placed")).collect();
        assert!(rects[1..].iter().all(|r| r.y >= 360), "names in the lower half: {rects:?}");
        assert!(rects[0].h >= 200, "the one camera keeps the upper half: {:?}", rects[0]);
        for (i, a) in rects.iter().enumerate() {
            assert!(a.x >= 0 && a.x + a.w <= 1280 && a.y + a.h <= 720, "{a:?}");
            assert!(rects[i + 1..].iter().all(|b| apart(a, b)), "{rects:?}");
        }
    }
}

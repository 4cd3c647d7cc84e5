//! Placing tiles: a variant's slots filled by role, the rest arranged in the `rest` area.

use super::grid::grid_in;
use super::{Arrange, Rect, Role, Variant};

/// Who holds each role now (participant or tile ids); `None` when nobody does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Roles<'a> {
    /// The dominant speaker.
    pub speaker: Option<&'a str>,
    /// The participant the host pinned.
    pub pinned: Option<&'a str>,
    /// The shared screen's tile.
    pub screen: Option<&'a str>,
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

/// A rectangle for each of `tiles` (ids in display order), in the same order; `None` for tiles
/// beyond what the variant can show, and for any cell under 2×2 pixels (a tiny slot of an
/// edited `layouts.json` on a small canvas: hidden rather than drawn at the input's own size). Single slots take their role's holder (or, if
/// nobody holds it, the first tile not yet placed); the `rest` area takes everyone else.
pub fn place(variant: &Variant, tiles: &[&str], roles: &Roles, width: u32, height: u32) -> Vec<Option<Rect>> {
    let mut out: Vec<Option<Rect>> = vec![None; tiles.len()];
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
            out[i] = Some(rect);
        }
    }
    if let Some((area, arrange)) = rest_area {
        let left: Vec<usize> = (0..tiles.len()).filter(|&i| out[i].is_none()).collect();
        let rects = match arrange {
            Arrange::Grid => grid_in(area, left.len()),
            Arrange::Row => strip(area, left.len(), true),
            Arrange::Column => strip(area, left.len(), false),
        };
        for (i, r) in left.into_iter().zip(rects) {
            out[i] = Some(r);
        }
    }
    for r in out.iter_mut() {
        if r.is_some_and(|r| r.w < 2 || r.h < 2) {
            *r = None;
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
                let roles = Roles { speaker: Some("p1"), pinned: Some("p2"), screen: Some("p0") };
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
        let pinned =
            place(l.variant("pinned", 4).unwrap(), &tiles, &Roles { speaker: Some("c"), pinned: Some("d"), screen: None }, 1280, 720);
        assert_eq!(biggest(&pinned), 3);
        // Pinned with nobody pinned follows the speaker.
        let unpinned = place(l.variant("pinned", 4).unwrap(), &tiles, &Roles { speaker: Some("b"), ..Default::default() }, 1280, 720);
        assert_eq!(biggest(&unpinned), 1);
        let screen =
            place(l.variant("presentation", 4).unwrap(), &tiles, &Roles { speaker: Some("c"), pinned: None, screen: Some("d") }, 1280, 720);
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
}

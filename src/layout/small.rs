//! The small-screen canvas's layout (issue 23 §1b): one tile large on top, up to
//! [`SMALL_OTHERS`] others small below it, on a portrait canvas a phone shows at its full width.
//! Pure: who goes first is decided here from the room's roles, the rectangles from the canvas
//! size; the media layer moves pads and draws names.
//!
//! Invariants: at most `1 + SMALL_OTHERS` tiles get a rectangle; rectangles do not overlap, lie
//! on the canvas and have even coordinates and sizes (I420).

use super::Rect;

/// Most tiles the small canvas shows below the large one.
pub const SMALL_OTHERS: usize = 4;

/// The order the small canvas fills its places in: `large` first (the screen share, else the
/// pinned participant, else the dominant speaker: the caller passes the first that is among
/// `ids`), then whoever is `talking`, then everyone else in `ids` order (join order). Without a
/// `large` among `ids`, the first of that order is large.
pub fn small_order<'a>(ids: &[&'a str], large: Option<&str>, talking: &[&str]) -> Vec<&'a str> {
    let mut out: Vec<&'a str> = Vec::with_capacity(ids.len());
    if let Some(l) = large.and_then(|l| ids.iter().find(|id| **id == l)) {
        out.push(l);
    }
    for id in ids.iter().filter(|id| talking.contains(id)) {
        if !out.contains(id) {
            out.push(id);
        }
    }
    for id in ids {
        if !out.contains(id) {
            out.push(id);
        }
    }
    out
}

/// Where the first `n` tiles of [`small_order`] go on a `width`×`height` (portrait) canvas:
/// alone, a tile takes the canvas; otherwise the first takes the top square (`width`×`width`)
/// and up to [`SMALL_OTHERS`] others share the rest: one across it, two side by side, three or
/// four in a 2×2 grid. Tiles past those get no rectangle (`None`).
pub fn small(n: usize, width: u32, height: u32) -> Vec<Option<Rect>> {
    let (w, h) = (width as i32 & !1, height as i32 & !1);
    let mut out = vec![None; n];
    match n {
        0 => return out,
        1 => {
            out[0] = Some(Rect { x: 0, y: 0, w, h });
            return out;
        }
        _ => {}
    }
    let top = w.min(h * 3 / 5) & !1;
    out[0] = Some(Rect { x: 0, y: 0, w, h: top });
    let others = (n - 1).min(SMALL_OTHERS);
    let (cols, rows) = match others {
        1 => (1, 1),
        2 => (2, 1),
        _ => (2, 2),
    };
    let (cw, ch) = ((w / cols) & !1, ((h - top) / rows) & !1);
    for i in 0..others {
        let (c, r) = ((i as i32) % cols, (i as i32) / cols);
        out[1 + i] = Some(Rect { x: c * cw, y: top + r * ch, w: cw, h: ch });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_large_one_goes_first_then_talkers_then_join_order() {
        let ids = ["a", "b", "c", "d"];
        assert_eq!(small_order(&ids, Some("c"), &["d"]), ["c", "d", "a", "b"]);
        assert_eq!(small_order(&ids, None, &[]), ["a", "b", "c", "d"]);
        assert_eq!(small_order(&ids, Some("gone"), &["b"]), ["b", "a", "c", "d"], "a role holder not shown: the talker is large");
        assert_eq!(small_order(&ids, Some("b"), &["b"]), ["b", "a", "c", "d"], "no one twice");
    }

    #[test]
    fn one_large_on_top_and_up_to_four_below_without_overlap() {
        assert_eq!(small(1, 360, 640), [Some(Rect { x: 0, y: 0, w: 360, h: 640 })]);
        let two = small(2, 360, 640);
        assert_eq!(two[0], Some(Rect { x: 0, y: 0, w: 360, h: 360 }));
        assert_eq!(two[1], Some(Rect { x: 0, y: 360, w: 360, h: 280 }));
        let seven = small(7, 360, 640);
        assert_eq!(seven.iter().filter(|r| r.is_some()).count(), 1 + SMALL_OTHERS);
        assert_eq!(seven[4], Some(Rect { x: 180, y: 500, w: 180, h: 140 }));
        let rects: Vec<Rect> = seven.into_iter().flatten().collect();
        for (i, a) in rects.iter().enumerate() {
            assert!(a.x >= 0 && a.y >= 0 && a.x + a.w <= 360 && a.y + a.h <= 640, "{a:?} on the canvas");
            assert!([a.x, a.y, a.w, a.h].iter().all(|v| v % 2 == 0), "{a:?} even");
            for b in &rects[i + 1..] {
                let apart = a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y;
                assert!(apart, "{a:?} overlaps {b:?}");
            }
        }
        assert!(small(0, 360, 640).is_empty());
    }
}

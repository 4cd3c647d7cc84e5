//! Pixel rectangles and the plain grid (also how a `rest` area arranges its tiles).

/// A tile's rectangle on the canvas, pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub x: i32,
    pub y: i32,
    pub w: i32,
    pub h: i32,
}

/// Most tiles a canvas shows: 25 participants and one shared screen.
pub const MAX_TILES: usize = 26;

/// Columns and rows for `n` tiles: 1 → 1×1, 2 → 2×1, 3–4 → 2×2, 5–9 → 3×3, … up to 6×6.
pub fn grid_shape(n: usize) -> (usize, usize) {
    match n {
        0 | 1 => (1, 1),
        2 => (2, 1),
        _ => {
            let cols = (1..=6).find(|c| c * c >= n).unwrap_or(6);
            (cols, cols)
        }
    }
}

/// Tiles for `n` participants on a `width`×`height` canvas, in participant order, row-major.
/// Pixel remainders go to the last row/column so the grid covers the canvas exactly.
pub fn grid(n: usize, width: u32, height: u32) -> Vec<Rect> {
    grid_in(Rect { x: 0, y: 0, w: width as i32, h: height as i32 }, n)
}

/// `n` tiles (at most [`MAX_TILES`]) in a grid covering `area`.
pub fn grid_in(area: Rect, n: usize) -> Vec<Rect> {
    let n = n.min(MAX_TILES);
    let (cols, rows) = grid_shape(n);
    // Even edges: I420 chroma is subsampled by two, an odd edge would smear a tile's border.
    let edge = |i: usize, count: usize, total: i32| (total * i as i32 / count as i32) & !1;
    (0..n)
        .map(|i| {
            let (c, r) = (i % cols, i / cols);
            let x1 = if c + 1 == cols { area.w } else { edge(c + 1, cols, area.w) };
            let y1 = if r + 1 == rows { area.h } else { edge(r + 1, rows, area.h) };
            let (x0, y0) = (edge(c, cols, area.w), edge(r, rows, area.h));
            Rect { x: area.x + x0, y: area.y + y0, w: x1 - x0, h: y1 - y0 }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_follow_the_spec() {
        assert_eq!(grid_shape(1), (1, 1));
        assert_eq!(grid_shape(2), (2, 1));
        assert_eq!(grid_shape(3), (2, 2));
        assert_eq!(grid_shape(4), (2, 2));
        assert_eq!(grid_shape(5), (3, 3));
        assert_eq!(grid_shape(9), (3, 3));
        assert_eq!(grid_shape(10), (4, 4));
        assert_eq!(grid_shape(25), (5, 5));
    }

    #[test]
    fn one_fills_the_canvas_and_two_sit_side_by_side() {
        assert_eq!(grid(1, 1280, 720), vec![Rect { x: 0, y: 0, w: 1280, h: 720 }]);
        assert_eq!(grid(2, 1280, 720), vec![Rect { x: 0, y: 0, w: 640, h: 720 }, Rect { x: 640, y: 0, w: 640, h: 720 }]);
    }

    #[test]
    fn tiles_never_overlap_and_stay_on_canvas() {
        for n in 1..=MAX_TILES {
            let tiles = grid(n, 1280, 720);
            assert_eq!(tiles.len(), n);
            for (i, a) in tiles.iter().enumerate() {
                assert!(a.x >= 0 && a.y >= 0 && a.x + a.w <= 1280 && a.y + a.h <= 720);
                for b in &tiles[i + 1..] {
                    let apart = a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y;
                    assert!(apart, "n={n}: {a:?} overlaps {b:?}");
                }
            }
        }
        assert_eq!(grid(30, 1280, 720).len(), MAX_TILES);
    }
}

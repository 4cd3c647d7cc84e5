//! Pixel rectangles and the grid (also how a `rest` area arranges its tiles): balanced rows of
//! equal height, each row's cells of equal width, the grid centred in its area.
//!
//! How the shape is chosen: for every row count, the tiles are spread over the rows as evenly
//! as possible, fuller rows first (5 → 3+2, 7 → 4+3). A row's cells share its width; a cell is
//! never wider than 16:9 ([`WIDEST`]: a wider cell is narrowed and its row centred, so the last
//! row of 3 tiles is centred) nor narrower than square ([`NARROWEST`]: the rows are made lower
//! until it is not). The row count that covers most of the area wins (ties: the larger smallest
//! cell). The cells are *filled*: the media layer crops each picture to its cell's shape (a
//! 16:9 camera loses at most 44 % of its width in a square cell, never any height), so the
//! area of the cells is the area of pictures on the canvas.
//!
//! Invariants: cells do not overlap, lie inside the area, have even positions and sizes (I420),
//! and keep an aspect within [`NARROWEST`]..=[`WIDEST`] (up to the even rounding) unless the
//! area itself is too small for any cell.

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

/// The widest a grid cell gets (width / height): the camera's own 16:9, nothing cropped off its
/// top or bottom.
pub const WIDEST: f64 = 16.0 / 9.0;
/// The narrowest a grid cell gets: square.
pub const NARROWEST: f64 = 1.0;

/// A grid's shape: tiles per row (fuller rows first), the row height and each row's cell width,
/// before rounding to even pixels.
#[derive(Debug, Clone, PartialEq)]
struct Shape {
    rows: Vec<usize>,
    h: f64,
    widths: Vec<f64>,
}

impl Shape {
    /// The shape with `rows` rows for `n` tiles on a `w`×`h` area.
    fn with_rows(n: usize, rows: usize, w: f64, h: f64) -> Self {
        let counts: Vec<usize> = (0..rows).map(|r| n / rows + usize::from(r < n % rows)).collect();
        let row_h = counts.iter().fold(h / rows as f64, |acc, &k| acc.min(w / k as f64 / NARROWEST));
        let widths = counts.iter().map(|&k| (w / k as f64).min(row_h * WIDEST)).collect();
        Self { rows: counts, h: row_h, widths }
    }

    /// The area the cells cover.
    fn area(&self) -> f64 {
        self.rows.iter().zip(&self.widths).map(|(&k, &cw)| k as f64 * cw * self.h).sum()
    }

    fn smallest_cell(&self) -> f64 {
        self.widths.iter().copied().fold(f64::INFINITY, f64::min) * self.h
    }
}

/// The best shape for `n` (≥ 1) tiles on a `w`×`h` area (see the module documentation).
fn best_shape(n: usize, w: f64, h: f64) -> Shape {
    let mut best = Shape::with_rows(n, 1, w, h);
    for rows in 2..=n {
        let s = Shape::with_rows(n, rows, w, h);
        // Areas within a thousandth are a tie: the larger smallest cell wins.
        let (a, b) = (s.area(), best.area());
        if a > b * 1.001 || (a > b * 0.999 && s.smallest_cell() > best.smallest_cell()) {
            best = s;
        }
    }
    best
}

/// Tiles per row for `n` tiles on a `width`×`height` canvas (fuller rows first): 1 → [1],
/// 2 → [2], 3 → [2, 1], 5 → [3, 2], 7 → [4, 3], 9 → [3, 3, 3] on 1280×720.
pub fn grid_rows(n: usize, width: u32, height: u32) -> Vec<usize> {
    if n == 0 {
        return Vec::new();
    }
    best_shape(n.min(MAX_TILES), f64::from(width), f64::from(height)).rows
}

/// Tiles for `n` participants on a `width`×`height` canvas, in participant order, row-major.
pub fn grid(n: usize, width: u32, height: u32) -> Vec<Rect> {
    grid_in(Rect { x: 0, y: 0, w: width as i32, h: height as i32 }, n)
}

/// Rounds down to even (I420 chroma is subsampled by two: an odd edge smears a border).
/// (A thousandth of a pixel is added first: 324 × 16/9 must round to 576, not 574.)
fn even(v: f64) -> i32 {
    ((v.max(0.0) + 1e-3) as i32) & !1
}

/// `n` tiles (at most [`MAX_TILES`]) in a grid centred in `area` (see the module
/// documentation). A row whose cells span the area's width has its pixel remainder shared
/// between its cells' edges, so it covers the width exactly.
pub fn grid_in(area: Rect, n: usize) -> Vec<Rect> {
    let n = n.min(MAX_TILES);
    if n == 0 || area.w < 2 || area.h < 2 {
        return vec![Rect { x: area.x, y: area.y, w: 0, h: 0 }; n];
    }
    let s = best_shape(n, f64::from(area.w), f64::from(area.h));
    let rows = s.rows.len() as i32;
    let row_h = even(s.h);
    let block_h = if row_h * rows + 2 > area.h { area.h } else { row_h * rows };
    let top = area.y + even(f64::from(area.h - block_h) / 2.0);
    let mut out = Vec::with_capacity(n);
    for (r, (&k, &cw)) in s.rows.iter().zip(&s.widths).enumerate() {
        let r = r as i32;
        // Row edges spread the block's height (the last row takes the remainder).
        let y0 = top + even(f64::from(block_h * r) / f64::from(rows));
        let y1 = if r + 1 == rows { top + block_h } else { top + even(f64::from(block_h * (r + 1)) / f64::from(rows)) };
        let k = k as i32;
        let full = cw * k as f64 >= f64::from(area.w) - 1.0;
        if full {
            for c in 0..k {
                let x0 = area.x + even(f64::from(area.w * c) / f64::from(k));
                let x1 = if c + 1 == k { area.x + area.w } else { area.x + even(f64::from(area.w * (c + 1)) / f64::from(k)) };
                out.push(Rect { x: x0, y: y0, w: x1 - x0, h: y1 - y0 });
            }
        } else {
            let w = even(cw.min(f64::from(y1 - y0) * WIDEST));
            let left = area.x + even(f64::from(area.w - w * k) / 2.0);
            for c in 0..k {
                out.push(Rect { x: left + c * w, y: y0, w, h: y1 - y0 });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coverage(tiles: &[Rect], w: i32, h: i32) -> f64 {
        tiles.iter().map(|r| f64::from(r.w * r.h)).sum::<f64>() / f64::from(w * h)
    }

    #[test]
    fn rows_are_balanced_fuller_first() {
        let rows = |n| grid_rows(n, 1280, 720);
        assert_eq!(rows(1), [1]);
        assert_eq!(rows(2), [2]);
        assert_eq!(rows(3), [2, 1]);
        assert_eq!(rows(4), [2, 2]);
        assert_eq!(rows(5), [3, 2]);
        assert_eq!(rows(6), [3, 3]);
        assert_eq!(rows(7), [4, 3]);
        assert_eq!(rows(9), [3, 3, 3]);
        assert_eq!(rows(10), [4, 3, 3]);
        assert_eq!(rows(16), [4, 4, 4, 4]);
        assert_eq!(rows(25), [5, 5, 5, 5, 5]);
        for n in 1..=MAX_TILES {
            let r = rows(n);
            assert_eq!(r.iter().sum::<usize>(), n);
            assert!(r.windows(2).all(|p| p[0] >= p[1] && p[0] - p[1] <= 1), "n={n}: {r:?}");
        }
        assert!(rows(0).is_empty());
    }

    /// The figures the README gives: tile area per N on the 1280×720 canvas.
    #[test]
    fn tiles_cover_the_canvas() {
        let want = [
            (1, 1.0),
            (2, 0.888),
            (3, 0.75),
            (4, 1.0),
            (5, 0.997),
            (6, 0.997),
            (7, 0.888),
            (8, 0.888),
            (9, 0.997),
            (10, 0.997),
            (11, 0.997),
            (12, 1.0),
            (13, 1.0),
            (14, 1.0),
            (15, 1.0),
            (16, 1.0),
        ];
        for (n, at_least) in want {
            let c = coverage(&grid(n, 1280, 720), 1280, 720);
            assert!(c >= at_least && c <= 1.0, "n={n}: {:.1} % of the canvas", c * 100.0);
        }
        // The case: five people use at least 85 % (the old 3×3 grid used 5/9, 56 %).
        assert!(coverage(&grid(5, 1280, 720), 1280, 720) >= 0.85);
    }

    #[test]
    fn five_make_a_row_of_three_and_a_centred_row_of_two() {
        let t = grid(5, 1280, 720);
        assert_eq!(t[0], Rect { x: 0, y: 0, w: 426, h: 360 });
        assert_eq!(t[2], Rect { x: 852, y: 0, w: 428, h: 360 });
        assert_eq!(t[3], Rect { x: 0, y: 360, w: 640, h: 360 });
        assert_eq!(t[4], Rect { x: 640, y: 360, w: 640, h: 360 });
        // Three: the last one centred under the first two, all 16:9.
        let t = grid(3, 1280, 720);
        assert_eq!(
            t,
            [Rect { x: 0, y: 0, w: 640, h: 360 }, Rect { x: 640, y: 0, w: 640, h: 360 }, Rect { x: 320, y: 360, w: 640, h: 360 }]
        );
        // Seven: 4 + 3, rows 320 high (the narrow cells of four stay square), centred vertically,
        // the row of three (426 wide, narrower than the canvas allows 16:9 of) centred.
        let t = grid(7, 1280, 720);
        assert_eq!(t[0], Rect { x: 0, y: 40, w: 320, h: 320 });
        assert_eq!(t[4].y, 360);
        let (l, r) = (t[4].x, 1280 - (t[6].x + t[6].w));
        assert!(l.abs_diff(r) <= 2, "the last row is centred: {l} left, {r} right");
    }

    #[test]
    fn one_fills_the_canvas_and_two_sit_side_by_side() {
        assert_eq!(grid(1, 1280, 720), vec![Rect { x: 0, y: 0, w: 1280, h: 720 }]);
        assert_eq!(grid(2, 1280, 720), vec![Rect { x: 0, y: 40, w: 640, h: 640 }, Rect { x: 640, y: 40, w: 640, h: 640 }]);
    }

    #[test]
    fn cells_stay_between_square_and_16_by_9() {
        for (w, h) in [(1280, 720), (640, 360), (1280, 288), (1280, 648), (720, 1280)] {
            for n in 1..=MAX_TILES {
                for r in grid(n, w, h) {
                    // Within the even rounding: two pixels either way.
                    let (cw, ch) = (f64::from(r.w), f64::from(r.h));
                    assert!(cw <= ch * WIDEST + 2.0 && cw >= ch * NARROWEST - 2.0, "{w}x{h} n={n}: {r:?}");
                }
            }
        }
    }

    #[test]
    fn tiles_never_overlap_and_stay_on_canvas() {
        for (w, h) in [(1280, 720), (640, 360), (1280, 288), (256, 720), (4, 4)] {
            for n in 1..=MAX_TILES {
                let tiles = grid(n, w, h);
                assert_eq!(tiles.len(), n);
                for (i, a) in tiles.iter().enumerate() {
                    assert!(a.x >= 0 && a.y >= 0 && a.x + a.w <= w as i32 && a.y + a.h <= h as i32, "{w}x{h} n={n}: {a:?}");
                    assert!([a.x, a.y, a.w, a.h].iter().all(|v| v % 2 == 0), "{w}x{h} n={n}: odd {a:?}");
                    for b in &tiles[i + 1..] {
                        let apart = a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y;
                        assert!(apart || a.w == 0 || b.w == 0, "n={n}: {a:?} overlaps {b:?}");
                    }
                }
            }
        }
        assert_eq!(grid(30, 1280, 720).len(), MAX_TILES);
    }
}

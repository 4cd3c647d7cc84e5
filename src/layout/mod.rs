//! Layouts as data: where each tile goes on the canvas, decided from a description (a list of
//! slots in normalised coordinates with roles, per participant count) and who holds which role
//! (the dominant speaker, the pinned participant, the shared screen). Pure: no GStreamer, no
//! room; the room decides the roles, the media layer moves pads to the rectangles.
//!
//! The small-screen canvas has its own fixed layout (`small.rs`: one tile large, a few below).
//!
//! The descriptions live in `pipelines/layouts.json` (operators may edit or add layouts); the
//! four the server relies on (`grid`, `speaker`, `pinned`, `presentation`) must be present.
//!
//! The grid (`grid.rs`) is balanced rows of cells shaped to fill the canvas, each picture
//! cropped to its cell (between square and 16:9); people without video are compact name tiles
//! below it (`place.rs`). Role slots and row/column strips keep each picture's aspect.
//!
//! Invariants: [`place`] never returns overlapping rectangles for distinct tiles of a valid
//! description, every rectangle lies on the canvas with even coordinates (I420), and every tile
//! it is given gets a rectangle (up to [`MAX_TILES`]).

mod grid;
mod place;
mod small;

pub use grid::{MAX_TILES, NARROWEST, Rect, WIDEST, grid, grid_rows};
pub use place::{Cell, NAME_ROW, Roles, place, place_cells};
pub use small::{SMALL_OTHERS, small, small_order};

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The layouts the server itself switches to; a description file must define them.
pub const REQUIRED: [&str; 4] = ["grid", "speaker", "pinned", "presentation"];
/// Longest layout name accepted in a description file.
const MAX_NAME: usize = 32;

/// What a slot is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Role {
    /// The dominant speaker.
    Floor,
    /// The participant the host pinned (the dominant speaker while nobody is pinned).
    Pinned,
    /// The shared screen (the pinned participant, then the dominant speaker, while none is).
    Screen,
    /// Everyone not placed in a role slot, arranged in the slot's area.
    Rest,
}

/// How a `rest` area holds its tiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Arrange {
    /// Balanced rows filling the area (1, 2, 2+1, 2+2, 3+2 …; see `grid.rs`), pictures cropped
    /// to their cells; participants without video as a strip of name tiles below.
    #[default]
    Grid,
    /// One row of equal 16:9 cells, centred.
    Row,
    /// One column of equal 16:9 cells, centred.
    Column,
}

/// One slot: an area of the canvas in 0..=1 coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Slot {
    pub role: Role,
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    #[serde(default)]
    pub arrange: Arrange,
}

/// The slots used while the room shows at most `max_tiles` tiles.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Variant {
    pub max_tiles: usize,
    pub slots: Vec<Slot>,
}

/// Errors in a layout description file.
#[derive(Debug, thiserror::Error)]
pub enum LayoutsError {
    #[error("cannot read {path}")]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a valid layout description: {source}")]
    Parse {
        path: std::path::PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("layout description: {0}")]
    Invalid(String),
}

/// Every layout by name.
#[derive(Debug, Clone, PartialEq)]
pub struct Layouts {
    layouts: BTreeMap<String, Vec<Variant>>,
}

impl Layouts {
    pub const FILE: &'static str = "layouts.json";

    /// Reads and checks `dir/layouts.json`.
    pub fn load(dir: &Path) -> Result<Self, LayoutsError> {
        let path = dir.join(Self::FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| LayoutsError::Read { path: path.clone(), source })?;
        Self::parse(&text).map_err(|e| match e {
            LayoutsError::Parse { source, .. } => LayoutsError::Parse { path, source },
            other => other,
        })
    }

    /// Parses and checks a description (a JSON object: name → variants).
    pub fn parse(text: &str) -> Result<Self, LayoutsError> {
        let layouts: BTreeMap<String, Vec<Variant>> =
            serde_json::from_str(text).map_err(|source| LayoutsError::Parse { path: Self::FILE.into(), source })?;
        let l = Self { layouts };
        l.validate()?;
        Ok(l)
    }

    fn validate(&self) -> Result<(), LayoutsError> {
        let bad = |m: String| Err(LayoutsError::Invalid(m));
        for r in REQUIRED {
            if !self.layouts.contains_key(r) {
                return bad(format!("the layout {r:?} is missing (the server switches to it)"));
            }
        }
        for (name, variants) in &self.layouts {
            if name.is_empty() || name.len() > MAX_NAME || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                return bad(format!("layout name {name:?}: use 1 to {MAX_NAME} letters, digits, - or _"));
            }
            if variants.is_empty() {
                return bad(format!("{name}: no variant"));
            }
            let mut last = 0;
            for v in variants {
                if v.max_tiles <= last {
                    return bad(format!("{name}: variants must be in increasing maxTiles order"));
                }
                last = v.max_tiles;
                let singles = v.slots.iter().filter(|s| s.role != Role::Rest).count();
                let rests = v.slots.len() - singles;
                if rests > 1 {
                    return bad(format!("{name} (maxTiles {}): at most one rest slot", v.max_tiles));
                }
                if rests == 0 && singles < v.max_tiles {
                    return bad(format!(
                        "{name} (maxTiles {}): {singles} slots cannot hold {} tiles; add a rest slot",
                        v.max_tiles, v.max_tiles
                    ));
                }
                for (i, s) in v.slots.iter().enumerate() {
                    let inside = [s.x, s.y, s.w, s.h].iter().all(|c| c.is_finite() && (0.0..=1.0).contains(c))
                        && s.w > 0.0
                        && s.h > 0.0
                        && s.x + s.w <= 1.0 + 1e-9
                        && s.y + s.h <= 1.0 + 1e-9;
                    if !inside {
                        return bad(format!("{name} (maxTiles {}): slot {i} is not inside the canvas", v.max_tiles));
                    }
                    for t in &v.slots[i + 1..] {
                        let apart =
                            s.x + s.w <= t.x + 1e-9 || t.x + t.w <= s.x + 1e-9 || s.y + s.h <= t.y + 1e-9 || t.y + t.h <= s.y + 1e-9;
                        if !apart {
                            return bad(format!("{name} (maxTiles {}): slots overlap", v.max_tiles));
                        }
                    }
                }
            }
            if last < MAX_TILES {
                return bad(format!("{name}: the last variant must hold {MAX_TILES} tiles (maxTiles {last})"));
            }
        }
        Ok(())
    }

    pub fn contains(&self, name: &str) -> bool {
        self.layouts.contains_key(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.layouts.keys().map(String::as_str)
    }

    /// The variant of `name` for `tiles` tiles (`grid`'s when `name` is unknown).
    pub fn variant(&self, name: &str, tiles: usize) -> Option<&Variant> {
        let variants = self.layouts.get(name).or_else(|| self.layouts.get("grid"))?;
        variants.iter().find(|v| v.max_tiles >= tiles).or(variants.last())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> Layouts {
        Layouts::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines")).unwrap()
    }

    #[test]
    fn the_shipped_file_is_valid_and_has_the_required_layouts() {
        let l = shipped();
        for r in REQUIRED {
            assert!(l.contains(r), "{r}");
        }
    }

    #[test]
    fn bad_descriptions_are_refused_with_a_reason() {
        let ok_rest = r#"[{"maxTiles":26,"slots":[{"role":"rest","x":0,"y":0,"w":1,"h":1}]}]"#;
        let with = |extra: &str| format!(r#"{{"grid":{ok_rest},"speaker":{ok_rest},"pinned":{ok_rest},"presentation":{ok_rest}{extra}}}"#);
        assert!(Layouts::parse(&with("")).is_ok());
        let missing = format!(r#"{{"grid":{ok_rest}}}"#);
        assert!(Layouts::parse(&missing).unwrap_err().to_string().contains("speaker"));
        let overlap = with(
            r#","x":[{"maxTiles":26,"slots":[{"role":"floor","x":0,"y":0,"w":0.6,"h":1},{"role":"rest","x":0.5,"y":0,"w":0.5,"h":1}]}]"#,
        );
        assert!(Layouts::parse(&overlap).unwrap_err().to_string().contains("overlap"));
        let outside = with(r#","x":[{"maxTiles":26,"slots":[{"role":"rest","x":0.5,"y":0,"w":0.6,"h":1}]}]"#);
        assert!(Layouts::parse(&outside).unwrap_err().to_string().contains("inside"));
        let short = with(r#","x":[{"maxTiles":4,"slots":[{"role":"rest","x":0,"y":0,"w":1,"h":1}]}]"#);
        assert!(Layouts::parse(&short).unwrap_err().to_string().contains("26"));
        let no_room = with(
            r#","x":[{"maxTiles":2,"slots":[{"role":"floor","x":0,"y":0,"w":1,"h":1}]},{"maxTiles":26,"slots":[{"role":"rest","x":0,"y":0,"w":1,"h":1}]}]"#,
        );
        assert!(Layouts::parse(&no_room).unwrap_err().to_string().contains("cannot hold"));
        assert!(Layouts::parse(&with(r#","bad name":[]"#)).is_err());
        assert!(Layouts::parse("{").is_err());
        let unknown_field = with(r#","x":[{"maxTiles":26,"slots":[{"role":"rest","x":0,"y":0,"w":1,"h":1,"z":1}]}]"#);
        assert!(Layouts::parse(&unknown_field).is_err());
    }

    #[test]
    fn variants_are_chosen_by_tile_count() {
        let l = shipped();
        assert_eq!(l.variant("speaker", 1).unwrap().slots.len(), 1);
        assert!(l.variant("speaker", 4).unwrap().slots.len() >= 2);
        assert_eq!(l.variant("nonsense", 3), l.variant("grid", 3));
    }
}

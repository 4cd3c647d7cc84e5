//! The layering `src/lib.rs` writes down holds: every `crate::` path in `src/` points to a module
//! on a lower line of the table in `lib.rs`, and no files import each other in a circle (a file
//! and the files of its own folder below it, `mod.rs` and its children, are one unit and are not
//! counted). It reads the sources; nothing is built or run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");

/// `lib.rs`'s table: module → its line (1 = bottom).
fn layer_table() -> BTreeMap<String, usize> {
    let lib = std::fs::read_to_string(Path::new(SRC).join("lib.rs")).expect("src/lib.rs is readable");
    let mut table = BTreeMap::new();
    for line in lib.lines() {
        let Some(rest) = line.strip_prefix("//! ") else { continue };
        let Some((n, names)) = rest.split_once(". ") else { continue };
        let Ok(n) = n.parse::<usize>() else { continue };
        for name in names.split(',') {
            let name = name.trim().trim_matches('`');
            assert!(table.insert(name.to_owned(), n).is_none(), "{name} is twice in lib.rs's layer table");
        }
    }
    assert!(table.len() > 10, "lib.rs's layer table was not found (lines like \"//! 1. `time`, `ids`\")");
    table
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("src/ is readable") {
        let p = e.expect("a directory entry").path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The module path of a file: `src/room/actor.rs` → `[room, actor]`, `src/room/mod.rs` → `[room]`.
fn module_of(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(SRC).expect("a file under src/");
    let mut parts: Vec<String> = rel.iter().map(|s| s.to_string_lossy().into_owned()).collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" && stem != "main" {
        parts.push(stem.to_owned());
    }
    parts
}

/// The code of a file without comments, string contents and its `#[cfg(test)]` module.
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    let mut out = String::new();
    for line in text.lines() {
        let line = match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        };
        // Paths inside string literals (messages, SQL) are not imports.
        let mut in_str = false;
        for c in line.chars() {
            if c == '"' {
                in_str = !in_str;
            } else if !in_str {
                out.push(c);
            }
        }
        out.push('\n');
    }
    out
}

/// `a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e`.
fn expand(path: &str) -> Vec<String> {
    let path: String = path.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = path.find('{') else { return vec![path] };
    let (prefix, rest) = (&path[..open], &path[open + 1..path.rfind('}').unwrap_or(path.len())]);
    let (mut items, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in rest.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&rest[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&rest[start..]);
    items.into_iter().filter(|i| !i.is_empty()).flat_map(|i| expand(&format!("{prefix}{i}"))).collect()
}

/// Every path starting with `crate`, `super` or `self` that `code` names.
fn paths_in(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let uses = regex::Regex::new(r"\buse\s+((?:crate|super|self)::[^;]*);").expect("a valid pattern");
    for c in uses.captures_iter(code) {
        out.extend(expand(&c[1]));
    }
    let inline = regex::Regex::new(r"\b(?:crate|super|self)(?:::[A-Za-z_][A-Za-z0-9_]*)+").expect("a valid pattern");
    out.extend(inline.find_iter(&uses.replace_all(code, "")).map(|m| m.as_str().to_owned()));
    out
}

/// The file-module a path in `from` lands in: the longest prefix that is a file.
fn resolve(from: &[String], from_is_dir_module: bool, path: &str, files: &BTreeSet<Vec<String>>) -> Option<Vec<String>> {
    let segs: Vec<&str> = path.split("::").collect();
    let mut at: Vec<String> = match segs[0] {
        "crate" => vec![],
        // A file's own module is `from`; `super` is its parent module.
        "self" => from.to_vec(),
        _ => {
            let mut m = from.to_vec();
            let _ = from_is_dir_module;
            m.pop();
            m
        }
    };
    let mut rest = &segs[1..];
    while rest.first() == Some(&"super") {
        at.pop();
        rest = &rest[1..];
    }
    let mut best = files.contains(&at).then(|| at.clone());
    for s in rest {
        at.push((*s).to_owned());
        if files.contains(&at) {
            best = Some(at.clone());
        }
    }
    best
}

struct Crate {
    /// File module → the file modules it imports.
    edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
}

fn read_crate() -> Crate {
    let mut list = Vec::new();
    sources(Path::new(SRC), &mut list);
    list.retain(|f| !f.ends_with("main.rs") && !f.ends_with("lib.rs"));
    let files: BTreeSet<Vec<String>> = list.iter().map(|f| module_of(f)).collect();
    let mut edges = BTreeMap::new();
    for f in &list {
        let from = module_of(f);
        let code = code_of(&std::fs::read_to_string(f).expect("a source file is readable"));
        let is_dir = f.ends_with("mod.rs");
        let to: BTreeSet<Vec<String>> =
            paths_in(&code).iter().filter_map(|p| resolve(&from, is_dir, p, &files)).filter(|t| *t != from).collect();
        edges.insert(from, to);
    }
    Crate { edges }
}

fn show(m: &[String]) -> String {
    m.join("::")
}

#[test]
fn modules_import_only_lower_layers() {
    let table = layer_table();
    let krate = read_crate();
    let mut wrong = Vec::new();
    for (from, to) in &krate.edges {
        let top = &from[0];
        let Some(&mine) = table.get(top) else {
            wrong.push(format!("{top} is not in lib.rs's layer table: add it on the line it belongs to"));
            continue;
        };
        for t in to {
            let Some(dep) = t.first() else { continue };
            if dep == top {
                continue;
            }
            match table.get(dep) {
                Some(&theirs) if theirs < mine => {}
                Some(&theirs) => wrong.push(format!("{} (line {mine}) imports {} (line {theirs})", show(from), show(t))),
                None => wrong.push(format!("{} imports {}, which is not in the table", show(from), show(t))),
            }
        }
    }
    wrong.sort();
    wrong.dedup();
    assert!(wrong.is_empty(), "imports against the layers of src/lib.rs:\n{}", wrong.join("\n"));
}

/// Whether `a` is `b` or inside it (`room::actor` is inside `room`).
fn within(a: &[String], b: &[String]) -> bool {
    a.len() >= b.len() && a[..b.len()] == *b
}

#[test]
fn no_files_import_each_other_in_a_circle() {
    let krate = read_crate();
    // A parent module and its children are one unit: `mod.rs` declares and uses its children,
    // and they use what it holds.
    let edges: BTreeMap<&Vec<String>, Vec<&Vec<String>>> =
        krate.edges.iter().map(|(f, to)| (f, to.iter().filter(|t| !within(f, t) && !within(t, f)).collect())).collect();
    // Depth-first search for a back edge; the path on the stack is the circle.
    fn visit<'a>(
        n: &'a Vec<String>,
        edges: &BTreeMap<&'a Vec<String>, Vec<&'a Vec<String>>>,
        state: &mut BTreeMap<&'a Vec<String>, u8>,
        stack: &mut Vec<&'a Vec<String>>,
        found: &mut Vec<String>,
    ) {
        state.insert(n, 1);
        stack.push(n);
        for &t in edges.get(n).map(|v| v.as_slice()).unwrap_or(&[]) {
            match state.get(t).copied().unwrap_or(0) {
                0 => visit(t, edges, state, stack, found),
                1 => {
                    let i = stack.iter().position(|s| *s == t).expect("a node being visited is on the stack");
                    let mut c: Vec<String> = stack[i..].iter().map(|s| show(s)).collect();
                    c.push(show(t));
                    found.push(c.join(" -> "));
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n, 2);
    }
    let (mut state, mut found) = (BTreeMap::new(), Vec::new());
    for n in edges.keys() {
        if !state.contains_key(*n) {
            visit(n, &edges, &mut state, &mut Vec::new(), &mut found);
        }
    }
    assert!(found.is_empty(), "files import each other in a circle:\n{}", found.join("\n"));
}

/// Which top-level modules may use each foreign library (as `lib.rs` says).
const OWNERS: [(&str, &str, &[&str]); 3] = [
    ("GStreamer", r"\b(?:gstreamer|gst|gstreamer_app|gstreamer_video)::", &["media", "egress", "loadgen"]),
    ("webrtc-rs", r"(?:^|[^A-Za-z0-9_:])(?:::)?(?:webrtc|rtc)::", &["rtc", "loadgen"]),
    ("warp", r"\bwarp::", &["api"]),
];

#[test]
fn foreign_libraries_have_one_owner() {
    let mut list = Vec::new();
    sources(Path::new(SRC), &mut list);
    let patterns: Vec<_> =
        OWNERS.iter().map(|(lib, p, owners)| (*lib, regex::Regex::new(&format!("(?m){p}")).expect("a valid pattern"), *owners)).collect();
    let bare_rtc = regex::Regex::new(r"(?m)(^|[^A-Za-z0-9_:])rtc::").expect("a valid pattern");
    let mut wrong = Vec::new();
    for f in &list {
        let module = module_of(f);
        let Some(top) = module.first() else { continue };
        let code = code_of(&std::fs::read_to_string(f).expect("a source file is readable"));
        // `use crate::rtc;` makes a bare `rtc::` this crate's module (an import shadows the
        // external crate of the same name); `::rtc::` is still the external one.
        let code = if code.contains("use crate::rtc;") { bare_rtc.replace_all(&code, "${1}crate::rtc::").into_owned() } else { code };
        for (lib, re, owners) in &patterns {
            if !owners.contains(&top.as_str()) && re.is_match(&code) {
                wrong.push(format!("{} uses {lib} (only {} may)", f.display(), owners.join(", ")));
            }
        }
    }
    assert!(wrong.is_empty(), "foreign libraries outside their owners:\n{}", wrong.join("\n"));
}

#[test]
fn the_reader_sees_imports() {
    // The checks above are only as good as this reading: it must find what a real file imports.
    let code = code_of(
        "use crate::room::{actor::Actor, RoomHandle};\nuse super::ws::{A, B};\nfn f() { crate::time::now_unix(); \"crate::api\"; }\n// crate::server\n",
    );
    let paths = paths_in(&code);
    for want in ["crate::room::actor::Actor", "crate::room::RoomHandle", "super::ws::A", "crate::time::now_unix"] {
        assert!(paths.iter().any(|p| p == want), "{want} not found in {paths:?}");
    }
    assert!(!paths.iter().any(|p| p.contains("api") || p.contains("server")), "strings and comments are not imports: {paths:?}");
    let rtc = regex::Regex::new(&format!("(?m){}", OWNERS[1].1)).expect("a valid pattern");
    assert!(rtc.is_match("use ::rtc::rtp::Packet;") && rtc.is_match("use webrtc::x;") && !rtc.is_match("use crate::rtc::PeerEvent;"));
    let krate = read_crate();
    let time = vec!["time".to_owned()];
    assert!(krate.edges.values().filter(|to| to.contains(&time)).count() > 5, "many files use crate::time");
    let ws = krate.edges.get(&vec!["api".to_owned(), "ws".to_owned()]).expect("src/api/ws.rs is read");
    assert!(ws.contains(&vec!["api".to_owned(), "keepalive".to_owned()]), "api::ws imports api::keepalive: {ws:?}");
}

//! The app's top-level modules import each other without circles, and the part that runs
//! without Tauri (media, jobs, pipeline, the studio) imports nothing of the window's.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Modules the command line and the tests use without a window.
const TAURI_FREE: &[&str] = &[
    "atomic_file",
    "hub_token",
    "jobs",
    "media",
    "paths",
    "pipeline",
    "settings",
    "studio",
    "sync",
    "units",
];
/// The window's modules.
const WINDOW: &[&str] = &["app", "commands", "video_server", "tasks", "player"];

type Graph = BTreeMap<String, BTreeSet<String>>;

/// `module -> modules it names as crate::X`, from every source file.
fn import_graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph = Graph::new();
    let mut pending = vec![src.clone()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(&src).unwrap();
            let first = relative.components().next().unwrap().as_os_str();
            let module = Path::new(first)
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if module == "lib" || module == "main" {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let targets = graph.entry(module.clone()).or_default();
            targets.extend(crate_references(&text).into_iter().filter(|t| *t != module));
        }
    }
    graph
}

/// The top-level module of each `crate::x` and `crate::{x, y::z}` in `text`.
fn crate_references(text: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut found = Vec::new();
    for (at, _) in text.match_indices("crate::") {
        let rest = &text[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut item_start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && !c.is_whitespace() => {
                        found.push(ident(&group[i..]));
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            found.push(ident(rest));
        }
    }
    found.retain(|m| !m.is_empty());
    found
}

/// A circle of imports, if there is one.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &Graph,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn references_are_found_in_paths_and_groups() {
    let text = "use crate::jobs::JobId;\nuse crate::{media::probe, pipeline::{A, B}, studio};";
    assert_eq!(
        crate_references(text),
        ["jobs", "media", "pipeline", "studio"]
    );
    let mut circle = Graph::new();
    circle.insert("a".into(), ["b".to_string()].into());
    circle.insert("b".into(), ["a".to_string()].into());
    assert!(find_cycle(&circle).is_some());
}

#[test]
fn modules_import_each_other_without_circles() {
    let graph = import_graph();
    assert!(graph.contains_key("studio") && graph.contains_key("commands"));
    assert_eq!(find_cycle(&graph), None, "{graph:#?}");
}

#[test]
fn the_core_imports_nothing_of_the_window() {
    let graph = import_graph();
    for module in TAURI_FREE {
        let imports = &graph[*module];
        let window: Vec<_> = imports
            .iter()
            .filter(|m| WINDOW.contains(&m.as_str()))
            .collect();
        assert!(window.is_empty(), "{module} imports {window:?}");
    }
}

//! The front end's command bindings are generated from the Rust commands; this fails when the
//! committed file no longer matches them, so the two cannot drift apart.

use std::path::Path;

#[test]
fn committed_bindings_match_the_commands() {
    let committed_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/bindings.ts");
    let dir = tempfile::tempdir().unwrap();
    let fresh_path = dir.path().join("bindings.ts");
    bgm_studio::app::export_bindings(&fresh_path).unwrap();
    let fresh = std::fs::read_to_string(&fresh_path).unwrap();
    let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
    assert!(
        fresh == committed,
        "ui/src/bindings.ts is out of date with the Rust commands; run `make bindings`"
    );
    assert!(fresh.contains("probeMedia") && fresh.contains("export type MediaInfo"));
}

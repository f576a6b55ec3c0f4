//! The default study's front end and learning sources (the repository's
//! pipeline.yaml, up to the factorizations) on the tiny corpus: stderr
//! repeats no line, so a warning a stage gives per track or per EM
//! iteration reaches the terminal once per node, summarised.

use std::collections::BTreeMap;
use std::path::Path;

use crate::support::*;

#[test]
fn the_tiny_study_repeats_no_line_on_stderr() {
    let p = Project::new(&Backend::Local, "tiny_study");
    let default = Path::new(env!("CARGO_MANIFEST_DIR")).join("../pipeline.yaml");
    // 48 learning tracks: 8 components, where the default study's 240 have 50.
    p.write(
        "pipeline.yaml",
        &format!(
            "extends: {}\noverride_params:\n  tracks: {{preset: tiny}}\n  \
             labels_{{table}}: {{preset: tiny}}\n  z_{{source}}: {{k: 8}}\n  \
             z_artist: {{k: 8}}\n",
            default.display()
        ),
    );
    let ran = p
        .run(&[
            "run",
            "--json",
            "--only",
            "z_bpm",
            "z_year",
            "z_tag",
            "z_taste",
            "z_lyrics",
            "z_cdr_tag",
            "z_artist",
        ])
        .ok();
    assert!(
        ran.stderr.contains("warning: node `z_year`: ")
            && ran.stderr.contains("`pipeline show z_year` lists them")
            && ran.stderr.contains("a smaller `k` avoids them"),
        "the GMM's re-seeds are summarised, first what they mean: {}",
        ran.stderr
    );
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for line in ran.stderr.lines().filter(|l| !l.trim().is_empty()) {
        *seen.entry(line).or_default() += 1;
    }
    let repeated: Vec<_> = seen.iter().filter(|(_, &n)| n > 1).collect();
    assert!(repeated.is_empty(), "repeated lines: {repeated:?}");
    let warnings = ran.stderr.lines().filter(|l| l.starts_with("warning:"));
    assert!(
        warnings.count() <= 7,
        "at most one line per node: {}",
        ran.stderr
    );
    assert!(
        !ran.stderr.contains('\u{1b}'),
        "no colour codes when stderr is not a terminal"
    );
}

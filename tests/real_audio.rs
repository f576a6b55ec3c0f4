//! Real music in, scores out, as a researcher brings it: a folder-per-class
//! tree of Debian's game music (Ogg Vorbis from wesnoth, Ogg Opus from
//! warzone2100, minutes long), one broken file among them, goes through
//! import -> fetch -> mel -> extract (an SS-R network trained on the tiny
//! corpus, and Rand) -> evaluate with `pipeline run`: every track is scored
//! or reported.

use std::path::{Path, PathBuf};

use crate::fetch::{manifest_of, output_table, strings};
use crate::model::pipeline;
use crate::support::*;

const WESNOTH: &str = "/usr/share/games/wesnoth/1.16/data/core/music";
const WARZONE: &str = "/usr/share/games/warzone2100/music";
/// Tracks per class.
const PER_CLASS: usize = 8;

/// The first `PER_CLASS` files with extension `ext` under `dir`, sorted.
fn music(dir: &str, ext: &str) -> Vec<PathBuf> {
    let mut found = files_under(Path::new(dir));
    found.retain(|f| f.extension().is_some_and(|e| e == ext));
    found.sort();
    found.truncate(PER_CLASS);
    found
}

/// An SS-R network on the tiny corpus's tags: a trained model to apply to
/// real audio.
pub const TRAIN_TAG: &str = r#"
  - name: train_tag
    stage: train
    params: {strategy: SS-R, sources: [tag], epochs: 2, batch: 16}
    inputs: {mel: mel, scaler: scaler, tracks: labels_artist, targets: [z_tag]}
"#;

const NODES: &str = r#"
  - name: train_rand
    stage: train
    params: {strategy: SS-R, sources: [tag], epochs: 0}
    inputs: {mel: mel, scaler: scaler, tracks: labels_artist, targets: [z_tag]}
  - name: games
    stage: import_folders
    params: {root: music}
  - name: games_audio
    stage: fetch
    inputs: {tracks: games}
  - name: games_mel
    stage: mel
    params: {max_seconds: 30}
    inputs: {audio: games_audio}
  - name: vectors_{model}
    stage: extract
    foreach: {model: [train_tag, train_rand]}
    inputs: {model: "{model}", mel: games_mel, scaler: scaler, dataset: games}
  - name: eval_{model}
    stage: evaluate
    foreach: {model: [train_tag, train_rand]}
    params: {representation: "{model}", dataset: games, task: classification}
    inputs: {features: "vectors_{model}", dataset: games}
"#;

#[test]
fn real_vorbis_and_opus_music_is_imported_analysed_and_scored() {
    let (vorbis, opus) = (music(WESNOTH, "ogg"), music(WARZONE, "opus"));
    if vorbis.len() < PER_CLASS || opus.len() < PER_CLASS {
        eprintln!(
            "skipped: needs {PER_CLASS} tracks in each of {WESNOTH} and {WARZONE} \
             (scripts/setup.sh --test installs wesnoth-1.16-music and warzone2100-music)"
        );
        return;
    }
    let p = Project::new(&Backend::Local, "real_audio");
    // Named by class and number: albums repeat file names (track1.opus).
    let link = |class: &str, files: &[PathBuf]| {
        for (i, file) in files.iter().enumerate() {
            let ext = file.extension().unwrap().to_str().unwrap();
            let at = p.path(&format!("music/{class}/{class}_{i}.{ext}"));
            std::fs::create_dir_all(at.parent().unwrap()).unwrap();
            std::os::unix::fs::symlink(file, at).unwrap();
        }
    };
    link("wesnoth", &vorbis);
    link("warzone2100", &opus);
    p.write("music/wesnoth/broken.ogg", "OggS, but not really");
    p.write(
        "pipeline.yaml",
        &format!(
            "allow_paths: [{WESNOTH}, {WARZONE}]\n{}",
            pipeline(&format!("{TRAIN_TAG}{NODES}")).trim_start()
        ),
    );
    let ran = p.run(&["run", "--json"]).ok();

    let games = output_table(&p, &ran, "games", "table");
    assert_eq!(games.num_rows(), 2 * PER_CLASS + 1, "every file imported");
    let failed = strings(&output_table(&p, &ran, "games_mel", "failures"), "track_id");
    assert_eq!(failed.len(), 1, "only the broken file fails: {failed:?}");
    assert!(failed[0].contains("broken"), "{failed:?}");
    for model in ["train_tag", "train_rand"] {
        let meta = &manifest_of(&p, &ran, &format!("vectors_{model}"))["metadata"];
        assert_eq!(meta["tracks"], 2 * PER_CLASS, "{model}: {meta}");
        assert_eq!(meta["missing"], 1, "{model}: the broken track is reported");
        let scores = output_table(&p, &ran, &format!("eval_{model}"), "scores");
        assert!(scores.num_rows() >= 5, "{model}: five folds scored");
    }
}

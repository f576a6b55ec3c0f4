//! The files under examples/ plan as documented: each is loaded as a user
//! would point it at their data, and `pipeline status` lists the nodes it
//! adds beside the default study's, which stay as they are.

use std::collections::BTreeSet;
use std::path::Path;

use crate::fetch::{manifest_of, output_bytes, output_table, strings};
use crate::scenarios::status_of;
use crate::support::*;

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name)
        .display()
        .to_string()
}

fn names(statuses: &[serde_json::Value]) -> BTreeSet<String> {
    statuses
        .iter()
        .map(|s| s["node"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn my_folders_scores_every_model_of_the_study_on_a_folder_per_class_dataset() {
    let p = Project::new(&Backend::Local, "example_folders");
    for class in ["jazz", "rock"] {
        p.write(&format!("data/genres/{class}/{class}.00000.wav"), "audio");
    }
    p.write(
        "pipeline.yaml",
        &format!(
            "extends: {}\noverride_params:\n  mine: {{root: data/genres}}\n",
            example("my_folders.yaml")
        ),
    );
    let statuses = status_of(&p);
    let nodes = names(&statuses);
    let default = Project::new(&Backend::Local, "example_default");
    default.write(
        "pipeline.yaml",
        &format!(
            "extends: {}\n",
            Path::new(&example("../pipeline.yaml")).display()
        ),
    );
    let study = names(&status_of(&default));
    assert!(study.is_subset(&nodes), "the default study is kept whole");
    let runs: Vec<&String> = study.iter().filter(|n| n.starts_with("train_p")).collect();
    let scored: BTreeSet<&String> = nodes
        .iter()
        .filter(|n| n.starts_with("mine_eval_"))
        .collect();
    assert_eq!(
        scored.len(),
        runs.len() + 3,
        "every run, Rand, MFCC, musicnn: {scored:?}"
    );
    for run in &runs {
        let eval = format!("mine_eval_{}", run.trim_start_matches("train_"));
        assert!(scored.contains(&eval), "{eval} in {scored:?}");
    }
    let analysis = statuses.iter().find(|s| s["node"] == "analysis").unwrap();
    assert!(analysis["globs"].is_array(), "{analysis}");
    let matched = analysis["globs"].to_string();
    assert!(
        !matched.contains("mine_"),
        "the study's analysis leaves them out: {matched}"
    );
}

/// The data files msd_study.yaml names, as the datasets distribute them.
const MSD_FILES: &[&str] = &[
    "data/msd/previews.csv",
    "data/msd/lastfm_tags.db",
    "data/msd/train_triplets.txt",
    "data/msd/unique_tracks.txt",
    "data/msd/mxm_dataset_train.txt",
    "data/msd/msd_tagtraum_cd2.cls",
    "data/msd/msd_summary.csv",
    "data/gtzan/genres/blues/blues.00000.au",
    "data/fma/fma_metadata/tracks.csv",
    "data/extended_ballroom/Waltz/100701.mp3",
    "data/irmas/IRMAS-TrainingData/cel/001.wav",
    "data/emomusic/arousal.csv",
    "data/emomusic/valence.csv",
    "data/lastfm-1k/tracks.csv",
    "data/lastfm-1k/userid-timestamp-artid-artname-traid-traname.tsv",
];

#[test]
fn msd_study_plans_the_whole_study_from_the_datasets_file_names() {
    let p = Project::new(&Backend::Local, "example_msd");
    let yaml = std::fs::read_to_string(example("msd_study.yaml")).unwrap();
    p.write("pipeline.yaml", &yaml);
    let missing = p.run(&["status"]);
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    assert!(
        missing.stderr.contains("data/msd/previews.csv"),
        "a missing file is named: {}",
        missing.stderr
    );
    for file in MSD_FILES {
        p.write(file, "");
    }
    let statuses = status_of(&p);
    let nodes = names(&statuses);
    for node in [
        "labels_tag",
        "labels_taste",
        "labels_lyrics",
        "labels_cdr_tag",
        "labels_artist",
        "labels_bpm",
        "labels_year",
        "labels_fma",
        "labels_lastfm_interactions",
        "mel_gtzan",
        "eval_musicnn_valence",
        "rec_mfcc",
        "analysis",
        "report",
    ] {
        assert!(nodes.contains(node), "{node} planned");
    }
    let default = Project::new(&Backend::Local, "example_msd_default");
    default.write(
        "pipeline.yaml",
        &format!("extends: {}\n", example("../pipeline.yaml")),
    );
    let scored = |nodes: &BTreeSet<String>| {
        nodes
            .iter()
            .filter(|n| n.starts_with("eval_") || n.starts_with("rec_"))
            .cloned()
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(
        scored(&nodes),
        scored(&names(&status_of(&default))),
        "the default study's evaluations, on the real datasets"
    );
}

/// The music the game-music study reads: every learning package, and the
/// outside ones (Vorbis, Opus).
const GAME_MUSIC: &[&str] = &[
    "/usr/share/scummvm/drascula/audio",
    "/usr/share/planetblupi/music",
    "/usr/share/games/singularity/music",
    "/usr/share/hyperrogue/music",
    "/usr/share/games/fretsonfire/data/songs/sectoid",
    "/usr/share/games/fretsonfire/data/songs/muldjord",
    "/usr/share/games/asc/music",
    "/usr/share/games/wesnoth/1.16/data/core/music",
    "/usr/share/games/warzone2100/music",
];

#[test]
fn game_music_study_runs_on_a_few_tracks_of_each_package() {
    if let Some(absent) = GAME_MUSIC.iter().find(|d| !Path::new(d).is_dir()) {
        eprintln!("skipped: {absent} is not installed (scripts/setup.sh --test installs it)");
        return;
    }
    let p = Project::new(&Backend::Local, "example_game_music");
    let laid_out = std::process::Command::new(example("game_music/links.sh"))
        .args([p.path("music").to_str().unwrap(), "4"])
        .output()
        .unwrap();
    assert!(laid_out.status.success(), "{laid_out:?}");
    p.write(
        "music/learn/drascula/drascula-broken.ogg",
        "OggS, but not really",
    );
    // The study as documented, on 4 tracks a package, 5 s of each, with a
    // smaller design and two epochs.
    p.write(
        "pipeline.yaml",
        &format!(
            "extends: {}\noverride_params:\n  \"{{set}}\": {{root: \"music/{{set}}\"}}\n  \
             \"{{set}}_mel\": {{max_seconds: 5}}\n  design: {{greedy_runs: 1}}\n  \
             train_{{run}}: {{epochs: 2}}\n",
            example("game_music.yaml")
        ),
    );
    let ran = p.run(&["run", "--json"]).ok();

    let ids = |node: &str| -> BTreeSet<String> {
        strings(&output_table(&p, &ran, node, "table"), "track_id")
            .into_iter()
            .collect()
    };
    let (learn, held_out, outside) = (ids("learn"), ids("held_out"), ids("outside"));
    assert_eq!(
        (learn.len(), held_out.len()),
        (13, 11),
        "{learn:?} {held_out:?}"
    );
    assert!(learn.is_disjoint(&held_out) && learn.is_disjoint(&outside));
    assert!(
        outside
            .iter()
            .all(|id| id.starts_with("wesnoth-") || id.starts_with("warzone2100-")),
        "only the outside packages are outside: {outside:?}"
    );
    // The sources come from the files' own tags (singularity's are
    // Maxstack's, album "Endgame: Singularity ..."); drascula has none.
    let tags = output_table(&p, &ran, "tags", "table");
    let items = strings(&tags, "item");
    assert!(
        items
            .iter()
            .any(|i| i.starts_with("album:Endgame: Singularity")),
        "{items:?}"
    );
    let tagged = strings(&tags, "track_id");
    assert!(
        tagged.iter().all(|id| learn.contains(id)),
        "learning tracks only"
    );
    assert!(
        !tagged.iter().any(|id| id.starts_with("drascula-")),
        "{tagged:?}"
    );
    let rejected = &manifest_of(&p, &ran, "tags")["metadata"]["rejected"];
    assert_eq!(
        rejected["files whose tags cannot be read"], 1,
        "the broken file: {rejected}"
    );
    let composer = output_table(&p, &ran, "composer", "table");
    assert!(strings(&composer, "label").contains(&"Maxstack".to_string()));
    let composed: BTreeSet<String> = strings(&composer, "track_id").into_iter().collect();
    assert!(composed.is_subset(&held_out), "{composed:?}");

    // Every representation scored on every target, then analysed.
    let evals: Vec<String> = ran.json()["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["node"].as_str().unwrap().to_string())
        .filter(|n| n.starts_with("eval_"))
        .collect();
    for target in ["package", "composer", "outside"] {
        for model in ["rand", "mfcc", "p1-ssr-self-r0"] {
            let node = format!("eval_{model}_{target}");
            assert!(evals.contains(&node), "{node} in {evals:?}");
            let scores = output_table(&p, &ran, &node, "scores");
            assert_eq!(scores.num_rows(), 5, "{node}: five folds");
        }
    }
    let fixed = output_table(&p, &ran, "analysis", "fixed_effects");
    assert!(fixed.num_rows() > 0, "the mixed models are fitted");
    assert!(!output_bytes(&p, &ran, "report", "report.html").is_empty());
}

//! A study made elsewhere, as a researcher brings it: a runs CSV and a
//! scores CSV (with baselines) read by `load_table`, analysed by `analyze`
//! and reported by `report` with `pipeline run`; a bad row fails its
//! `load_table` node naming the file, row and column.

use crate::support::*;

const PIPELINE: &str = r#"
nodes:
  - name: my_runs
    stage: load_table
    params: {path: runs.csv, contract: runs}
  - name: my_scores
    stage: load_table
    params: {path: scores.csv, contract: scores}
  - name: analysis
    stage: analyze
    params: {bootstrap_resamples: 4}
    inputs: {runs: my_runs, scores: [my_scores]}
  - name: report
    stage: report
    inputs: {scores: [my_scores], design: my_runs, analysis: analysis, topics: []}
"#;

const SOURCES: [&str; 8] = [
    "self", "year", "bpm", "taste", "tag", "lyrics", "cdr_tag", "artist",
];
const STRATEGIES: [&str; 5] = ["MS-SR@FC", "MS-CR@6", "MS-CR@4", "MS-CR@2", "MSS-CR"];
const DATASETS: [(&str, &str); 3] = [
    ("gtzan", "accuracy"),
    ("arousal", "r2"),
    ("lastfm", "ndcg@500"),
];

/// SS-R on each source, then each multi-source strategy on 2..8 sources:
/// (id, strategy, source indices).
fn runs() -> Vec<(String, &'static str, Vec<usize>)> {
    let mut runs: Vec<_> = (0..8)
        .map(|s| (format!("ssr-{}", SOURCES[s]), "SS-R", vec![s]))
        .collect();
    for (k, strategy) in STRATEGIES.iter().enumerate() {
        for n in 2..=8 {
            let set = (0..n).map(|i| (i + k + n) % 8).collect();
            runs.push((format!("{}-{n}", strategy.to_lowercase()), *strategy, set));
        }
    }
    runs
}

fn runs_csv() -> String {
    let mut csv = format!("run,strategy,{}\n", SOURCES.join(","));
    for (id, strategy, set) in runs() {
        let flags: Vec<&str> = (0..8)
            .map(|s| if set.contains(&s) { "1" } else { "0" })
            .collect();
        csv += &format!("{id},{strategy},{}\n", flags.join(","));
    }
    csv
}

/// Two repeats of every run and of the MFCC and Rand baselines on each
/// dataset: a strategy and size effect plus a deterministic jitter.
fn scores_csv() -> String {
    let mut csv = String::from("run,dataset,repeat,metric,value\n");
    let reps = runs()
        .into_iter()
        .map(|(id, strategy, set)| {
            let k = STRATEGIES
                .iter()
                .position(|s| *s == strategy)
                .map_or(0, |k| k + 1);
            (id, k as f64 / 5.0, set.len() as f64)
        })
        .chain(["mfcc", "rand:SS-R"].map(|b| (b.to_string(), 0.0, 0.0)));
    for (i, (id, r_star, n)) in reps.enumerate() {
        for (d, (dataset, metric)) in DATASETS.iter().enumerate() {
            for repeat in 0..2 {
                let jitter = ((i * 7919 + d * 104_729 + repeat * 31) % 97) as f64 / 2000.0;
                let value = 0.4 + 0.1 * (d + 1) as f64 * r_star + 0.01 * n + jitter;
                csv += &format!("{id},{dataset},{repeat},{metric},{value}\n");
            }
        }
    }
    csv
}

#[test]
fn a_study_made_elsewhere_is_analysed_and_reported() {
    let p = Project::new(&Backend::Local, "user_study");
    p.write("pipeline.yaml", PIPELINE);
    p.write("runs.csv", &runs_csv());
    p.write("scores.csv", &scores_csv());
    let ran = p.run(&["run", "--json"]).ok();
    assert_eq!(
        ran.nodes("ran"),
        set(&["my_runs", "my_scores", "analysis", "report"])
    );
    let shown = p.run(&["show", "analysis"]).ok().stdout;
    for expected in [
        "\"observations\": 129",
        "\"baseline_scores_excluded\": 12",
        "\"runs_without_scores\": 0",
        "fixed_effects: 15 rows",
    ] {
        assert!(shown.contains(expected), "{expected}: {shown}");
    }
    let report = ran.json();
    let markdown =
        std::fs::read_to_string(p.blob_of(&key_of(&report, "report"), "report.md")).unwrap();
    for expected in [
        "my_runs",
        "43 runs (phase 1: 8, phase 2: 5, phase 3: 30)",
        "computed from the runs",
        "Fig. 7 analogue",
        "Fig. 11 analogue",
        "Fig. 12 analogue",
    ] {
        assert!(markdown.contains(expected), "{expected}: {markdown}");
    }
    for unexpected in ["neither design runs nor baselines", "the analysis has no"] {
        assert!(!markdown.contains(unexpected), "{unexpected}: {markdown}");
    }

    // A run that names no strategy of the study fails its node, and what
    // depends on it does not run.
    p.write(
        "runs.csv",
        &runs_csv().replacen("ssr-year,SS-R", "ssr-year,SSR", 1),
    );
    let bad = p.run(&["run"]);
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr.contains(
            "failed  my_runs: stage `load_table`: runs.csv, row 2, column `strategy`: unknown \
             strategy `SSR`"
        ),
        "{}",
        bad.stderr
    );
}

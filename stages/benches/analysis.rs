//! Mixed-model fit and parametric bootstrap speed against lme4, on the
//! committed reference study (tests/reference/analysis: 204 runs x 7
//! datasets = 1,428 observations; Model 1 with the stage's default
//! independent random effects has 11 fixed effects and 11 variance
//! parameters).
//!
//! Run: `benches/analysis/compare_lme4.sh` (times lme4 first, then runs
//! this with `ANALYSIS_LME4_JSON` pointing at lme4's numbers), or alone:
//! `cargo bench -p stages --bench analysis`.
//!
//! Prints the median of 5 Model 1 fits, the time of a `RESAMPLES`-resample
//! parametric bootstrap (default 200; the stage's refit settings, starting
//! from the fit, as lme4's `refit` does) on one thread and on all threads,
//! and, with lme4's numbers, the largest difference in the fixed effects and
//! log-likelihood and the speed ratios.

use std::time::Instant;

use serde_json::Value;
use stages::analysis::bootstrap::parametric;
use stages::analysis::mixed::Covariance;
use stages::analysis::models::{Row, Which};
use stages::analysis::scores::{build_study, read_runs, Origin};
use stages::analysis::stage::{bootstrap_config, fit_config};
use stages::Progress;

struct Quiet;

impl Progress for Quiet {
    fn set_total(&self, _: u64) {}
    fn advance(&self, _: u64) {}
}

fn reference_dir() -> String {
    format!("{}/../tests/reference/analysis", env!("CARGO_MANIFEST_DIR"))
}

fn read_csv(name: &str, fields: Vec<arrow::datatypes::Field>) -> arrow::array::RecordBatch {
    let path = format!("{}/{name}", reference_dir());
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let schema = std::sync::Arc::new(arrow::datatypes::Schema::new(fields));
    let reader = arrow::csv::ReaderBuilder::new(schema.clone())
        .with_format(arrow::csv::reader::Format::default().with_header(true))
        .build(std::io::Cursor::new(bytes))
        .expect("csv");
    let batches: Vec<_> = reader.map(|b| b.expect("csv batch")).collect();
    arrow::compute::concat_batches(&schema, &batches).expect("concat")
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    use arrow::datatypes::{DataType, Field};
    let resamples: usize = std::env::var("RESAMPLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let text = |n: &str| Field::new(n, DataType::Utf8, false);
    let int = |n: &str| Field::new(n, DataType::Int64, false);
    let runs = read_csv(
        "runs.csv",
        vec![
            text("run_id"),
            int("phase"),
            text("strategy"),
            text("sources"),
            int("n_sources"),
            int("seed"),
        ],
    );
    let scores = read_csv(
        "scores.csv",
        vec![
            text("representation"),
            text("dataset"),
            text("task"),
            int("repeat"),
            text("metric"),
            Field::new("value", DataType::Float64, false),
        ],
    );
    let origin = |slot, table| Origin {
        slot,
        node: "bench",
        table,
    };
    let runs = read_runs(&runs, origin("runs", "runs")).expect("runs");
    let study = build_study(&runs, &[(scores, origin("scores", "scores"))]).expect("study");
    let rows: Vec<Row> = study.observations.iter().map(|o| (o.dataset, o)).collect();
    let (model, y) = Which::Model1
        .build(&rows, study.datasets.len(), Covariance::Independent)
        .expect("model 1");
    let response = model.response(&y).expect("response");
    let config = fit_config();

    let mut fit = None;
    let fit_times: Vec<f64> = (0..5)
        .map(|_| {
            let start = Instant::now();
            fit = Some(model.fit(&response, None, &config).expect("fit"));
            start.elapsed().as_secs_f64()
        })
        .collect();
    let fit = fit.expect("fitted");
    let cores = rayon::current_num_threads();
    println!(
        "ours: Model 1 fit median {:.1} ms (of 5; {} evaluations), n = {}, REML log-lik {:.8}",
        1e3 * median(fit_times.clone()),
        fit.evaluations,
        model.n(),
        fit.reml_log_likelihood
    );
    let time_boot = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        let start = Instant::now();
        let reps =
            pool.install(|| parametric(&model, &fit, resamples, 1, &bootstrap_config(), &Quiet));
        (start.elapsed().as_secs_f64(), reps)
    };
    let (boot_one, reps) = time_boot(1);
    let (boot_all, _) = time_boot(cores);
    println!(
        "ours: parametric bootstrap {resamples}: {boot_one:.2} s on 1 thread, {boot_all:.2} s on {cores} threads ({} failed, {} singular)",
        reps.failed, reps.singular
    );

    let Ok(path) = std::env::var("ANALYSIS_LME4_JSON") else {
        return;
    };
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let lme4: Value = serde_json::from_str(&text).expect("lme4 json");
    let num = |v: &Value| v.as_f64().expect("number");
    let theirs: Vec<f64> = lme4["fixed"]
        .as_object()
        .expect("fixed")
        .values()
        .map(num)
        .collect();
    let max_fixed = fit
        .fixed
        .iter()
        .zip(&theirs)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    let ll = (fit.reml_log_likelihood - num(&lme4["reml_log_likelihood"])).abs();
    let (lo, hi): (Vec<f64>, Vec<f64>) = (0..fit.fixed.len())
        .map(|j| reps.interval(0.95, |d| d[j]))
        .unzip();
    let their_lo: Vec<f64> = lme4["bootstrap"]["ci_low"]
        .as_array()
        .expect("ci")
        .iter()
        .map(num)
        .collect();
    let their_hi: Vec<f64> = lme4["bootstrap"]["ci_high"]
        .as_array()
        .expect("ci")
        .iter()
        .map(num)
        .collect();
    let max_ci = lo
        .iter()
        .zip(&their_lo)
        .chain(hi.iter().zip(&their_hi))
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    let lme4_fit = median(
        lme4["fit_seconds"]
            .as_array()
            .expect("times")
            .iter()
            .map(num)
            .collect(),
    );
    let lme4_one = num(&lme4["bootstrap"]["seconds_one_core"]);
    let lme4_all = num(&lme4["bootstrap"]["seconds_all_cores"]);
    println!("agreement with lme4 (default settings): max |fixed effect diff| {max_fixed:.2e}, |REML log-lik diff| {ll:.2e}");
    println!(
        "bootstrap 95% limits, ours vs bootMer (different random draws): max |diff| {max_ci:.3}"
    );
    println!(
        "speed-up: fit {:.1}x; bootstrap {:.1}x (1 thread vs 1 core), {:.1}x ({cores} threads vs {} cores)",
        lme4_fit / median(fit_times),
        lme4_one / boot_one,
        lme4_all / boot_all,
        num(&lme4["bootstrap"]["cores"])
    );
}

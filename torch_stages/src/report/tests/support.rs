//! A small synthetic study (3 datasets, 4 strategies, 3 sources) as the
//! upstream tables the report reads, a fake engine context to run the stage
//! on them, and SVG/HTML inspection helpers.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, UInt32Array};
use arrow::datatypes::{Field, Schema};
use serde_json::{json, Value};

use crate::report::inputs::StudyInputs;
use stages::api::*;
use stages::study::{Source, Strategy};

pub fn utf8<S: AsRef<str>>(values: &[S]) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(
        values.iter().map(|s| s.as_ref()),
    ))
}
pub fn f64s(values: &[f64]) -> ArrayRef {
    Arc::new(Float64Array::from(values.to_vec()))
}
pub fn i64s(values: &[i64]) -> ArrayRef {
    Arc::new(Int64Array::from(values.to_vec()))
}
pub fn u32s(values: &[u32]) -> ArrayRef {
    Arc::new(UInt32Array::from(values.to_vec()))
}

pub fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
        .collect();
    RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .expect("valid test batch")
}

/// `batch` with column `name` replaced.
pub fn with_column(table: &RecordBatch, name: &str, column: ArrayRef) -> RecordBatch {
    let schema = table.schema();
    let columns: Vec<(&str, ArrayRef)> = schema
        .fields()
        .iter()
        .zip(table.columns())
        .map(|(f, c)| {
            let c = if f.name() == name {
                column.clone()
            } else {
                c.clone()
            };
            (f.name().as_str(), c)
        })
        .collect();
    batch(columns)
}

/// One upstream node's outputs.
pub use stages::test_support::MemoryFiles as Node;
use stages::test_support::{NoProgress, NoSink};

pub const DATASETS: [(&str, &str); 3] = [
    ("gtzan", "accuracy"),
    ("arousal", "r2"),
    ("lastfm", "ndcg@500"),
];

/// The synthetic design: (id, phase, strategy, sources).
pub fn runs() -> Vec<(String, i64, Strategy, Vec<Source>)> {
    use Source::*;
    let mut runs = Vec::new();
    for source in [Tag, Bpm, SelfSupervised] {
        for r in 0..2 {
            runs.push((
                format!("p1-ssr-{source}-r{r}"),
                1,
                Strategy::SsR,
                vec![source],
            ));
        }
    }
    let multi = [
        (Strategy::MsSrFc, vec![Bpm, SelfSupervised]),
        (Strategy::MsSrFc, vec![SelfSupervised, Bpm, Tag]),
        (Strategy::MsCr2, vec![Bpm, Tag]),
        (Strategy::MsCr2, vec![SelfSupervised, Bpm, Tag]),
        (Strategy::MssCr, vec![SelfSupervised, Tag]),
        (Strategy::MssCr, vec![SelfSupervised, Bpm, Tag]),
    ];
    for (i, (strategy, sources)) in multi.into_iter().enumerate() {
        let phase = if sources.len() == 3 { 2 } else { 3 };
        runs.push((format!("p{phase}-run{i}"), phase, strategy, sources));
    }
    runs
}

/// A deterministic, varied score for (run index, dataset index, repeat).
fn score(run: usize, dataset: usize, repeat: usize) -> f64 {
    0.4 + 0.03 * run as f64
        + 0.1 * dataset as f64
        + 0.01 * repeat as f64
        + 0.02 * ((run * 7 + dataset * 3) % 5) as f64
}

/// Scores of every run and baseline on every dataset, two repeats; the
/// random network is scored on the first two datasets only.
pub fn scores_table() -> RecordBatch {
    let mut reps: Vec<String> = runs().into_iter().map(|r| r.0).collect();
    reps.push("mfcc".into());
    reps.push("rand:SS-R".into());
    let (mut representation, mut dataset, mut metric, mut value) = (vec![], vec![], vec![], vec![]);
    let mut repeat = vec![];
    for (i, rep) in reps.iter().enumerate() {
        for (d, (name, m)) in DATASETS.iter().enumerate() {
            if rep == "rand:SS-R" && d == 2 {
                continue;
            }
            for r in 0..2 {
                representation.push(rep.clone());
                dataset.push(name.to_string());
                metric.push(m.to_string());
                value.push(score(i, d, r));
                repeat.push(r as i64);
            }
        }
    }
    let n = value.len();
    batch(vec![
        ("representation", utf8(&representation)),
        ("dataset", utf8(&dataset)),
        ("task", utf8(&vec!["classification"; n])),
        ("repeat", i64s(&repeat)),
        ("metric", utf8(&metric)),
        ("value", f64s(&value)),
        ("n_train", i64s(&vec![80; n])),
        ("n_test", i64s(&vec![20; n])),
    ])
}

pub fn runs_table() -> RecordBatch {
    let runs = runs();
    batch(vec![
        (
            "run_id",
            utf8(&runs.iter().map(|r| r.0.clone()).collect::<Vec<_>>()),
        ),
        ("phase", i64s(&runs.iter().map(|r| r.1).collect::<Vec<_>>())),
        (
            "strategy",
            utf8(&runs.iter().map(|r| r.2.name()).collect::<Vec<_>>()),
        ),
        (
            "sources",
            utf8(
                &runs
                    .iter()
                    .map(|r| Source::format_set(&r.3))
                    .collect::<Vec<_>>(),
            ),
        ),
        (
            "n_sources",
            i64s(&runs.iter().map(|r| r.3.len() as i64).collect::<Vec<_>>()),
        ),
        ("seed", i64s(&(0..runs.len() as i64).collect::<Vec<_>>())),
    ])
}

pub const ALIAS_LABELS: [&str; 5] = ["MS-SR@FC", "MS-CR@2", "self", "bpm", "tag"];

pub fn alias_table() -> RecordBatch {
    let (mut row, mut column, mut value) = (vec![], vec![], vec![]);
    for (i, a) in ALIAS_LABELS.iter().enumerate() {
        for (j, b) in ALIAS_LABELS.iter().enumerate() {
            row.push(*a);
            column.push(*b);
            value.push(if i == j {
                1.0
            } else {
                0.4 - 0.2 * ((i + j) % 5) as f64
            });
        }
    }
    batch(vec![
        ("row", utf8(&row)),
        ("column", utf8(&column)),
        ("value", f64s(&value)),
    ])
}

/// The SS-R runs' y* bonus: bpm is the best single source, except on
/// arousal (dataset 1), where self is.
fn best(set: &[Source], d: usize) -> f64 {
    match set {
        [Source::Bpm] => 0.3,
        [Source::SelfSupervised] if d == 1 => 0.5,
        [Source::SelfSupervised] => 0.1,
        _ => 0.0,
    }
}

/// One row per run and dataset, y* a simple function of n and strategy
/// (and, for SS-R, of the source).
pub fn standardized_table() -> RecordBatch {
    let (mut representation, mut dataset, mut strategy) = (vec![], vec![], vec![]);
    let (mut sources, mut n_sources) = (vec![], vec![]);
    let (mut n_star, mut r_star, mut y, mut y_star) = (vec![], vec![], vec![], vec![]);
    for (i, (id, _, st, set)) in runs().into_iter().enumerate() {
        for (d, (name, _)) in DATASETS.iter().enumerate() {
            let n = set.len() as i64;
            representation.push(id.clone());
            dataset.push(*name);
            strategy.push(st.name());
            sources.push(Source::format_set(&set));
            n_sources.push(n);
            n_star.push(if st == Strategy::SsR {
                0.0
            } else {
                n as f64 - 2.0
            });
            r_star.push(st.ordinal());
            y.push(score(i, d, 0));
            y_star.push(-1.0 + 0.5 * n as f64 + st.ordinal() - 0.1 * d as f64 + best(&set, d));
        }
    }
    batch(vec![
        ("representation", utf8(&representation)),
        ("dataset", utf8(&dataset)),
        ("strategy", utf8(&strategy)),
        ("sources", utf8(&sources)),
        ("n_sources", i64s(&n_sources)),
        ("n_star", f64s(&n_star)),
        ("r_star", f64s(&r_star)),
        ("y", f64s(&y)),
        ("y_star", f64s(&y_star)),
    ])
}

/// Model 1: b0 for the four strategies, b1 for the three multi-source
/// ones; Model 2: all four terms.
pub fn effects_table() -> RecordBatch {
    let mut terms: Vec<(&str, String, f64)> = Vec::new();
    for (k, st) in [
        Strategy::SsR,
        Strategy::MsSrFc,
        Strategy::MsCr2,
        Strategy::MssCr,
    ]
    .iter()
    .enumerate()
    {
        terms.push(("model1", format!("b0[{st}]"), -0.8 + 0.4 * k as f64));
        if *st != Strategy::SsR {
            terms.push(("model1", format!("b1[{st}]"), 0.1 * k as f64));
        }
    }
    for (k, t) in ["b0", "b10", "b20", "b30"].iter().enumerate() {
        terms.push(("model2", t.to_string(), 0.3 * k as f64 - 0.5));
    }
    let est: Vec<f64> = terms.iter().map(|t| t.2).collect();
    let shift = |d: f64| est.iter().map(|e| e + d).collect::<Vec<_>>();
    batch(vec![
        (
            "model",
            utf8(&terms.iter().map(|t| t.0).collect::<Vec<_>>()),
        ),
        (
            "term",
            utf8(&terms.iter().map(|t| t.1.clone()).collect::<Vec<_>>()),
        ),
        ("estimate", f64s(&est)),
        ("ci_low", f64s(&shift(-0.2))),
        ("ci_high", f64s(&shift(0.2))),
        ("case_ci_low", f64s(&shift(-0.3))),
        ("case_ci_high", f64s(&shift(0.3))),
    ])
}

pub fn pairwise_table() -> RecordBatch {
    batch(vec![
        ("model", utf8(&["model1", "model1"])),
        ("effect", utf8(&["b0", "b1"])),
        ("a", utf8(&["MSS-CR", "MSS-CR"])),
        ("b", utf8(&["SS-R", "MS-CR@2"])),
        ("difference", f64s(&[1.2, 0.05])),
        ("ci_low", f64s(&[0.9, -0.1])),
        ("ci_high", f64s(&[1.5, 0.2])),
    ])
}

/// 3 datasets x 3 sources; bpm has no SS-R value on lastfm (NaN).
pub fn components_table() -> RecordBatch {
    let (mut dataset, mut source, mut variance, mut ssr) = (vec![], vec![], vec![], vec![]);
    for (d, (name, _)) in DATASETS.iter().enumerate() {
        for (s, src) in ["self", "bpm", "tag"].iter().enumerate() {
            dataset.push(*name);
            source.push(*src);
            variance.push(0.01 + 0.02 * ((d * 3 + s * 2) % 4) as f64);
            ssr.push(if d == 2 && s == 1 {
                f64::NAN
            } else {
                0.3 * s as f64 - 0.1 * d as f64
            });
        }
    }
    batch(vec![
        ("dataset", utf8(&dataset)),
        ("source", utf8(&source)),
        ("variance", f64s(&variance)),
        ("ssr_y_star", f64s(&ssr)),
    ])
}

pub fn fit_json() -> Value {
    json!({
        "model1": {"reml_log_likelihood": -41.25, "singular": true,
                   "singular_reason": "variance of u1 for MS-SR@FC is 0", "iterations": 212},
        "model2": {"reml_log_likelihood": -38.5, "singular": false, "iterations": 95},
        "source_variance_correlation": 0.25
    })
}

/// Topics of `node`: `topics` topics with 5 ranked items each, listed in
/// reverse rank order to check that the report sorts them.
pub fn topics_table(prefix: &str, topics: u32) -> RecordBatch {
    let (mut topic, mut rank, mut item, mut weight) = (vec![], vec![], vec![], vec![]);
    for t in 0..topics {
        for r in (0..5u32).rev() {
            topic.push(t);
            rank.push(r);
            item.push(format!("{prefix}{t}-item{r}"));
            weight.push(1.0 / (r + 1) as f64);
        }
    }
    batch(vec![
        ("topic", u32s(&topic)),
        ("rank", u32s(&rank)),
        ("item", utf8(&item)),
        ("weight", f64s(&weight)),
    ])
}

/// The upstream nodes of a report, by slot, as tables to edit in tests.
#[derive(Clone)]
pub struct Fixture {
    pub scores: Vec<(String, Node)>,
    pub design: Node,
    pub analysis: Node,
    pub topics: Vec<(String, Node)>,
    /// The map's optional inputs, by slot.
    pub map: BTreeMap<&'static str, (String, Node)>,
}

fn node(tables: Vec<(&str, RecordBatch)>) -> Node {
    Node {
        tables: tables
            .into_iter()
            .map(|(n, t)| (n.to_string(), t))
            .collect(),
        bytes: BTreeMap::new(),
    }
}

impl Fixture {
    pub fn new() -> Self {
        let scores = scores_table();
        // Two evaluate nodes, as the engine would give them.
        let half = scores.num_rows() / 2;
        let mut analysis = node(vec![
            ("standardized", standardized_table()),
            ("fixed_effects", effects_table()),
            ("pairwise", pairwise_table()),
            ("variance_components", components_table()),
        ]);
        analysis
            .bytes
            .insert("fit".into(), serde_json::to_vec(&fit_json()).unwrap());
        Fixture {
            scores: vec![
                (
                    "eval_a".into(),
                    node(vec![("scores", scores.slice(0, half))]),
                ),
                (
                    "eval_b".into(),
                    node(vec![(
                        "scores",
                        scores.slice(half, scores.num_rows() - half),
                    )]),
                ),
            ],
            design: node(vec![("runs", runs_table()), ("alias", alias_table())]),
            analysis,
            topics: vec![
                (
                    "z_tag".into(),
                    node(vec![("top_items", topics_table("t", 6))]),
                ),
                (
                    "z_cdr_tag".into(),
                    node(vec![("top_items", topics_table("c", 2))]),
                ),
            ],
            map: map_nodes(),
        }
    }

    pub fn inputs(&self) -> BTreeMap<String, Vec<Upstream>> {
        let ups = |nodes: &[(String, Node)]| -> Vec<Upstream> {
            nodes
                .iter()
                .map(|(name, n)| Upstream {
                    node: name.clone(),
                    files: Arc::new(n.clone()),
                })
                .collect()
        };
        BTreeMap::from([
            ("scores".to_string(), ups(&self.scores)),
            (
                "design".to_string(),
                ups(&[("design".into(), self.design.clone())]),
            ),
            (
                "analysis".to_string(),
                ups(&[("analyze".into(), self.analysis.clone())]),
            ),
            ("topics".to_string(), ups(&self.topics)),
        ])
        .into_iter()
        .chain(
            self.map
                .iter()
                .map(|(slot, one)| (slot.to_string(), ups(std::slice::from_ref(one)))),
        )
        .collect()
    }

    /// Runs `f` with an engine context for this fixture and `params`.
    fn with_context<T>(&self, params: Value, f: impl FnOnce(&StageContext) -> T) -> T {
        let params = stages::test_support::params_with_defaults(&crate::report::Report, params);
        let inputs = self.inputs();
        let files = BTreeMap::new();
        let ctx = StageContext {
            node: "report",
            params: &params,
            inputs: &inputs,
            files: &files,
            progress: &NoProgress,
            sink: &NoSink,
            base_dir: std::path::Path::new("."),
            local_roots: &[],
        };
        f(&ctx)
    }

    pub fn run(&self) -> Result<Outputs, StageError> {
        self.run_with(json!({}))
    }

    pub fn run_with(&self, params: Value) -> Result<Outputs, StageError> {
        self.with_context(params, |ctx| crate::report::Report.run(ctx))
    }

    pub fn study(&self) -> StudyInputs {
        self.with_context(json!({}), StudyInputs::read)
            .expect("fixture reads")
    }
}

/// The text of a Bytes output.
pub fn text(out: &Outputs, name: &str) -> String {
    match out.files.get(name) {
        Some(Output::Bytes(b)) => String::from_utf8(b.clone()).expect("UTF-8 output"),
        _ => panic!(
            "no bytes output {name} (have {:?})",
            out.files.keys().collect::<Vec<_>>()
        ),
    }
}

/// Parses SVG or HTML as XML; panics with the parser's message otherwise.
pub fn parse(xml: &str) -> roxmltree::Document<'_> {
    roxmltree::Document::parse_with_options(
        xml,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("not well-formed: {e}"))
}

/// Elements named `tag` whose attributes include all of `attrs`.
pub fn count(doc: &roxmltree::Document, tag: &str, attrs: &[(&str, &str)]) -> usize {
    doc.descendants()
        .filter(|n| n.tag_name().name() == tag)
        .filter(|n| attrs.iter().all(|(k, v)| n.attribute(*k) == Some(*v)))
        .count()
}

/// The trimmed texts of all `<text>` elements.
pub fn texts(doc: &roxmltree::Document) -> Vec<String> {
    doc.descendants()
        .filter(|n| n.tag_name().name() == "text")
        .map(|n| n.text().unwrap_or_default().trim().to_string())
        .collect()
}

/// The mapped model: MS-CR@2 on bpm and tag, the design's run p3-run2.
pub const MAP_RUN_SEED: i64 = 8;
pub const MAP_GENRES: [&str; 3] = ["blues", "jazz", "rock"];
/// Tracks per genre, and tracks without a label.
pub const MAP_PER_GENRE: usize = 10;
pub const MAP_UNLABELLED: usize = 2;

/// Track `i`'s vector (width 1024: two blocks of 256, then their std;
/// [`map_vectors_table`] keeps the first `width`):
/// genre `g` is high on the dimensions k of both blocks with k % 3 == g
/// (k counted within the block),
/// plus a small deterministic wobble.
fn map_vector(i: usize, g: usize) -> Vec<f32> {
    (0..1024)
        .map(|k| {
            let signal = if k < 512 && k % 256 % 3 == g {
                3.0
            } else {
                0.0
            };
            signal + 0.3 * ((i * 31 + k * 17) as f32 * 0.37).sin()
        })
        .collect()
}

/// The bpm head (block 0) favours topic 10 + g for genre g, the tag head
/// (block 1) topic 1 + g: weight 1 from the dimensions genre g is high on.
fn map_weights() -> Vec<u8> {
    let head = |first_topic: usize| {
        let mut w = vec![0.0f32; 50 * 256];
        for k in 0..256 {
            w[(first_topic + k % 3) * 256 + k] = 1.0;
        }
        tch::Tensor::from_slice(&w).view([50, 256])
    };
    let named = vec![
        ("head0.weight".to_string(), head(10)),
        (
            "head0.bias".to_string(),
            tch::Tensor::zeros([50], tch::kind::FLOAT_CPU),
        ),
        ("head1.weight".to_string(), head(1)),
        (
            "head1.bias".to_string(),
            tch::Tensor::zeros([50], tch::kind::FLOAT_CPU),
        ),
    ];
    crate::model::weights::to_bytes(&named).unwrap()
}

pub fn map_vectors_table(tracks: usize, width: usize) -> RecordBatch {
    let ids: Vec<String> = (0..tracks).map(|i| format!("g{i:03}")).collect();
    let values: Vec<f32> = (0..tracks)
        .flat_map(|i| map_vector(i, i % 3).into_iter().take(width))
        .collect();
    let item = Arc::new(Field::new(
        "item",
        arrow::datatypes::DataType::Float32,
        false,
    ));
    let list = arrow::array::FixedSizeListArray::try_new(
        item,
        width as i32,
        Arc::new(arrow::array::Float32Array::from(values)),
        None,
    )
    .unwrap();
    batch(vec![("track_id", utf8(&ids)), ("vector", Arc::new(list))])
}

/// The three map inputs: vectors of 32 tracks, labels of 30 of them, and
/// the model.
pub fn map_nodes() -> BTreeMap<&'static str, (String, Node)> {
    let tracks = MAP_GENRES.len() * MAP_PER_GENRE + MAP_UNLABELLED;
    let labelled = MAP_GENRES.len() * MAP_PER_GENRE;
    let ids: Vec<String> = (0..labelled).map(|i| format!("g{i:03}")).collect();
    let genres: Vec<&str> = (0..labelled).map(|i| MAP_GENRES[i % 3]).collect();
    let mut model = node(vec![]);
    model.bytes.insert("weights".into(), map_weights());
    let config = json!({"strategy": "MS-CR@2", "sources": ["bpm", "tag"], "seed": MAP_RUN_SEED});
    model
        .bytes
        .insert("config".into(), serde_json::to_vec(&config).unwrap());
    BTreeMap::from([
        (
            "map_vectors",
            (
                "vectors_gtzan".to_string(),
                node(vec![("vectors", map_vectors_table(tracks, 1024))]),
            ),
        ),
        (
            "map_labels",
            (
                "labels_gtzan".to_string(),
                node(vec![(
                    "table",
                    batch(vec![("track_id", utf8(&ids)), ("label", utf8(&genres))]),
                )]),
            ),
        ),
        ("map_model", ("train_map".to_string(), model)),
    ])
}

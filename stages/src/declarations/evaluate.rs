//! `evaluate` and `recommend` (run by `torch_stages::evaluate`).

use crate::api::{Declaration, FileKind, InputSpec, OutputSpec, ParamSpec, ParamType};

pub const REPRESENTATION: ParamSpec = ParamSpec {
    name: "representation",
    ty: ParamType::Str,
    default: None,
    doc: "the id written into the scores (a run id; the baselines `mfcc`, `rand:<strategy>`, \
          `musicnn:MSD_vgg`)",
    in_key: true,
};

pub const DATASET: ParamSpec = ParamSpec {
    name: "dataset",
    ty: ParamType::Str,
    default: None,
    doc: "the dataset name written into the scores",
    in_key: true,
};

pub const TABLE: ParamSpec = ParamSpec {
    name: "table",
    ty: ParamType::Str,
    default: Some("vectors"),
    doc: "the upstream file holding the representation (`vectors`, or `mfcc` of a mel node)",
    in_key: true,
};

pub const REPEATS: ParamSpec = ParamSpec {
    name: "repeats",
    ty: ParamType::Int,
    default: Some("5"),
    doc: "number of seeded repeats (folds, or hold-outs for recommend; with a given split, model seeds)",
    in_key: true,
};

pub const SEED: ParamSpec = ParamSpec {
    name: "seed",
    ty: ParamType::Int,
    default: Some("1"),
    doc: "seed of the splits and models (non-negative)",
    in_key: true,
};

pub const FEATURES: InputSpec = InputSpec {
    name: "features",
    many: false,
    doc: "the representation: track_id and one FixedSizeList<Float32> column",
};

/// What `evaluate` and `recommend` write.
pub const SCORE_OUTPUTS: &[OutputSpec] = &[
    OutputSpec {
        name: "scores",
        kind: FileKind::Table,
        doc: "one row per repeat: representation, dataset, task, repeat, metric, value, \
              n_train, n_test",
    },
    OutputSpec {
        name: "splits",
        kind: FileKind::Table,
        doc: "each repeat's split: repeat, track_id, part",
    },
];

/// What the engine knows of `evaluate` without running it.
pub const EVALUATE: Declaration = Declaration {
    name: "evaluate",
    // 2: the copy-free probe step (softmax, deltas and sums computed in
    // place) changes the scores' last bits. 3: five folds (repeat r tests
    // fold r mod 5) where the dataset has no split, as the authors'
    // StratifiedKFold, in place of independent 80/20 draws.
    version: 3,
    doc: "Scores a representation on a target dataset with the MLP probe \
         (accuracy or R^2): the dataset's own split, or five (stratified or \
         group) folds, repeat r testing fold r mod 5.",
    params: &[
        REPRESENTATION,
        DATASET,
        ParamSpec {
            name: "task",
            ty: ParamType::Choice(&["classification", "regression"]),
            default: None,
            doc: "classification (column `label`, accuracy) or regression (`value`, R^2)",
            in_key: true,
        },
        TABLE,
        REPEATS,
        SEED,
    ],
    inputs: &[
        FEATURES,
        InputSpec {
            name: "dataset",
            many: false,
            doc: "the target manifest (`table`): track_id, label or value, optional split, group",
        },
    ],
    optional_inputs: &[],
    outputs: SCORE_OUTPUTS,
};

pub const fn number(
    name: &'static str,
    ty: ParamType,
    default: &'static str,
    doc: &'static str,
) -> ParamSpec {
    ParamSpec {
        name,
        ty,
        default: Some(default),
        doc,
        in_key: true,
    }
}

pub const RECOMMEND_PARAMS: &[ParamSpec] = &[
    REPRESENTATION,
    DATASET,
    TABLE,
    REPEATS,
    SEED,
    number(
        "factors",
        ParamType::Int,
        "50",
        "r, the number of latent factors",
    ),
    number("iterations", ParamType::Int, "15", "ALS iterations"),
    number(
        "alpha",
        ParamType::Float,
        "0.1",
        "confidence C = 1 + alpha R",
    ),
    number(
        "lambda_u",
        ParamType::Float,
        "0.00001",
        "penalty on the user factors",
    ),
    number(
        "lambda_v",
        ParamType::Float,
        "0.00001",
        "weight of |V - X W|^2",
    ),
    number("lambda_w", ParamType::Float, "0.1", "penalty on W"),
    number("top_k", ParamType::Int, "500", "cut-off of nDCG"),
];

/// What the engine knows of `recommend` without running it.
pub const RECOMMEND: Declaration = Declaration {
    name: "recommend",
    // 3: 5% of the items held out per repeat (the authors' train_ratio
    // 0.95), in place of 20%.
    version: 3,
    doc: "Scores a representation on cold-start recommendation: WMF with item \
         factors tied to the features, nDCG@k of the ranking of all items with the \
         held-out ones a user listened to as relevant.",
    params: RECOMMEND_PARAMS,
    inputs: &[
        FEATURES,
        InputSpec {
            name: "items",
            many: false,
            doc: "the items (`table`): track_id, optional group (artist)",
        },
        InputSpec {
            name: "interactions",
            many: false,
            doc: "`table`: user_id, track_id, count",
        },
    ],
    optional_inputs: &[],
    outputs: SCORE_OUTPUTS,
};

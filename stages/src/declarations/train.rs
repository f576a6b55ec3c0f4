//! `train` and `extract` (run by `torch_stages::model`).

use crate::api::{Declaration, FileKind, InputSpec, OutputSpec, ParamSpec, ParamType};
use crate::study::Strategy;

/// The arrangements of Adam optimisers `train` offers (torch_stages'
/// `model::optimizers`).
pub const OPTIMIZERS: [&str; 2] = ["shared_trunk", "per_source_path"];

pub const TRAIN_PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "strategy",
        ty: ParamType::Choice(&Strategy::NAMES),
        default: None,
        doc: "the architecture: one of the paper's six strategies",
        in_key: true,
    },
    ParamSpec {
        name: "sources",
        ty: ParamType::StrList,
        default: None,
        doc: "learning sources: self, year, bpm, taste, tag, lyrics, cdr_tag, artist",
        in_key: true,
    },
    ParamSpec {
        name: "epochs",
        ty: ParamType::Int,
        default: Some("4"),
        doc: "epochs of Algorithm 1 (the paper: 200); 0 = the untrained Rand baseline",
        in_key: true,
    },
    ParamSpec {
        name: "max_iterations",
        ty: ParamType::Int,
        default: Some("0"),
        doc: "stop after this many iterations in all, however many sources: a departure from the \
              paper, whose epochs give m sources m times the iterations (each source about the \
              updates of a single-source run); 0 = no cap, as the paper",
        in_key: true,
    },
    ParamSpec {
        name: "optimizer",
        ty: ParamType::Choice(&OPTIMIZERS),
        default: Some("shared_trunk"),
        doc: "shared_trunk: the authors' Adam over the shared trunk at lr/m plus one per source over \
              its branch and head at lr; per_source_path: one Adam per source over its whole path at lr",
        in_key: true,
    },
    ParamSpec {
        name: "batch",
        ty: ParamType::Int,
        default: Some("128"),
        doc: "tracks (or self pairs) per batch",
        in_key: true,
    },
    ParamSpec {
        name: "lr",
        ty: ParamType::Float,
        default: Some("0.00025"),
        doc: "Adam learning rate",
        in_key: true,
    },
    ParamSpec {
        name: "weight_decay",
        ty: ParamType::Float,
        default: Some("0.000001"),
        doc: "L2 penalty on all parameters",
        in_key: true,
    },
    ParamSpec {
        name: "seed",
        ty: ParamType::Int,
        default: Some("1"),
        doc: "initial weights, batch order, crops and dropout",
        in_key: true,
    },
    ParamSpec {
        name: "checkpoint_every",
        ty: ParamType::Int,
        default: Some("1"),
        doc: "save a resumable checkpoint every this many epochs (0: never)",
        in_key: true,
    },
];

/// What the engine knows of `train` without running it.
pub const TRAIN: Declaration = Declaration {
    name: "train",
    // 5: sources take turns in shuffled rounds, so each gets exactly its
    // ceil(tracks / batch) updates per epoch.
    version: 5,
    doc: "Trains the representation network of one experimental run (Algorithm 1): weights, config and the loss log.",
    params: TRAIN_PARAMS,
    inputs: &[
            InputSpec { name: "mel", many: false, doc: "the mel node of the learning tracks" },
            InputSpec { name: "scaler", many: false, doc: "the scaler node" },
            InputSpec { name: "tracks", many: false, doc: "the learning tracks (track_id): what `self` trains on" },
            InputSpec {
                name: "targets",
                many: true,
                doc: "the factorize nodes of the label sources, in the order of `sources` (self excluded)",
            },
        ],
    optional_inputs: &[],
    outputs: &[
        OutputSpec {
            name: "weights",
            kind: FileKind::Bytes("safetensors"),
            doc: "the trained network's variables",
        },
        OutputSpec {
            name: "config",
            kind: FileKind::Json,
            doc: "strategy, sources, dimensions and training settings",
        },
        OutputSpec {
            name: "log",
            kind: FileKind::Table,
            doc: "the loss per iteration: iteration, epoch, source, loss",
        },
    ],
};

/// What the engine knows of `extract` without running it.
pub const EXTRACT: Declaration = Declaration {
    name: "extract",
    version: 3,
    doc: "The representation of every track of a target dataset: [mean, std] of fc-feature over 216-frame slices.",
    params: &[],
    inputs: &[
            InputSpec {
                name: "model",
                many: false,
                doc: "a train node",
            },
            InputSpec {
                name: "mel",
                many: false,
                doc: "the mel node holding the dataset's tracks",
            },
            InputSpec {
                name: "scaler",
                many: false,
                doc: "the scaler the model was trained with",
            },
            InputSpec {
                name: "dataset",
                many: false,
                doc: "the target dataset's manifest (track_id, ...)",
            },
        ],
    optional_inputs: &[],
    outputs: &[OutputSpec {
        name: "vectors",
        kind: FileKind::Table,
        doc: "track_id and `vector`, a FixedSizeList<Float32>",
    }],
};

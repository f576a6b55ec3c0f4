//! `report` (run by `torch_stages::report`).

use crate::api::{Declaration, FileKind, InputSpec, OutputSpec, ParamSpec, ParamType};

pub const SCORES: &str = "scores";

pub const DESIGN: &str = "design";

pub const ANALYSIS: &str = "analysis";

pub const TOPICS: &str = "topics";

/// The map of Fig. 16 (optional): one model's vectors on the genre target,
/// that target's labels, and the model itself (for its output heads).
pub const MAP_VECTORS: &str = "map_vectors";
pub const MAP_LABELS: &str = "map_labels";
pub const MAP_MODEL: &str = "map_model";

/// 4: Fig. 13 (by number of sources, with and without the best single
/// source), Fig. 14 as a scatter, Fig. 16 (the map). 5: the per-source
/// correlations on shares, as Fig. 14 and the analysis.
pub const VERSION: u32 = 5;

pub const TITLE: ParamSpec = ParamSpec {
    name: "title",
    ty: ParamType::Str,
    default: Some("One deep music representation to rule them all? Study report"),
    doc: "the report's title",
    in_key: true,
};

pub const TOPICS_SHOWN: ParamSpec = ParamSpec {
    name: "topics_shown",
    ty: ParamType::Int,
    default: Some("5"),
    doc: "topics listed per source in Table 2 (the first ones by index)",
    in_key: true,
};

pub const ITEMS_SHOWN: ParamSpec = ParamSpec {
    name: "items_shown",
    ty: ParamType::Int,
    default: Some("4"),
    doc: "strongest items listed per topic in Table 2",
    in_key: true,
};

pub const SHARED_LATENTS: ParamSpec = ParamSpec {
    name: "shared_latents",
    ty: ParamType::StrList,
    // The bundled synthetic corpus's pairs (stages/src/synth): tempo,
    // genre tags, genre taxonomy, the artists' tag profiles, listeners'
    // genre preferences, brightness (year and valence), genre themes.
    default: Some(
        "[bpm=ballroom, tag=gtzan, cdr_tag=fma, artist=gtzan, taste=lastfm, year=valence, \
         lyrics=gtzan]",
    ),
    doc: "`source=dataset` pairs whose SS-R score is checked against Rand: the target \
          dataset whose labels share the source's latent factor",
    in_key: true,
};

pub const MAP_TARGET: ParamSpec = ParamSpec {
    name: "map_target",
    ty: ParamType::Str,
    default: Some("gtzan"),
    doc: "the scores' name of the dataset `map_vectors` covers (to rank the mapped model there)",
    in_key: true,
};

/// What the engine knows of `report` without running it.
pub const REPORT: Declaration = Declaration {
    name: "report",
    version: VERSION,
    doc: "The study report (the paper's Fig. 7-16, Tables 2 and 6): self-contained HTML, \
         Markdown, and each figure as SVG.",
    params: &[TITLE, TOPICS_SHOWN, ITEMS_SHOWN, SHARED_LATENTS, MAP_TARGET],
    inputs: &[
        InputSpec {
            name: SCORES,
            many: true,
            doc: "evaluate / recommend nodes: table `scores`; or load_table nodes with contract \
                  `scores`",
        },
        InputSpec {
            name: DESIGN,
            many: false,
            doc: "the design node: tables `runs` and `alias`; or a load_table node with contract \
                  `runs` (its alias matrix is computed from the runs)",
        },
        InputSpec {
            name: ANALYSIS,
            many: false,
            doc: "the analyze node: tables `standardized`, `fixed_effects`, `pairwise`, \
                      `variance_components` and the JSON file `fit`",
        },
        InputSpec {
            name: TOPICS,
            many: true,
            doc: "factorize nodes (pLSA sources): table `top_items`; may be empty",
        },
        InputSpec {
            name: MAP_VECTORS,
            many: false,
            doc: "optional: an extract node of one multi-source model on the genre target \
                  (table `vectors`), mapped in 2-D (Fig. 16)",
        },
        InputSpec {
            name: MAP_LABELS,
            many: false,
            doc: "optional: that target's manifest (table `table`: track_id, label), to colour \
                  the map",
        },
        InputSpec {
            name: MAP_MODEL,
            many: false,
            doc: "optional: the train node of that model (files `config`, `weights`): its output \
                  heads predict each block's topics",
        },
    ],
    optional_inputs: &[MAP_VECTORS, MAP_LABELS, MAP_MODEL],
    outputs: &[
        OutputSpec {
            name: "report.html",
            kind: FileKind::Bytes("html"),
            doc: "the report, self-contained (figures inline)",
        },
        OutputSpec {
            name: "report.md",
            kind: FileKind::Bytes("md"),
            doc: "the report as Markdown, linking the figures",
        },
        OutputSpec {
            name: "figures/<figure>.svg",
            kind: FileKind::Bytes("svg"),
            doc: "each figure",
        },
    ],
};

//! `report` (run by `torch_stages::report`).

use crate::api::{Declaration, FileKind, InputSpec, OutputSpec, ParamSpec, ParamType};

pub const SCORES: &str = "scores";

pub const DESIGN: &str = "design";

pub const ANALYSIS: &str = "analysis";

pub const TOPICS: &str = "topics";

pub const VERSION: u32 = 3;

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

/// What the engine knows of `report` without running it.
pub const REPORT: Declaration = Declaration {
    name: "report",
    version: VERSION,
    doc: "The study report (the paper's Fig. 7-15, Tables 2 and 6): self-contained HTML, \
         Markdown, and each figure as SVG.",
    params: &[TITLE, TOPICS_SHOWN, ITEMS_SHOWN, SHARED_LATENTS],
    inputs: &[
        InputSpec {
            name: SCORES,
            many: true,
            doc: "evaluate / recommend nodes: table `scores`",
        },
        InputSpec {
            name: DESIGN,
            many: false,
            doc: "the design node: tables `runs` and `alias`",
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
    ],
    optional_inputs: &[],
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

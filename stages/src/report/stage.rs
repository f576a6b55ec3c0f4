//! The `report` stage: the study's inputs in, `report.html` (self-contained),
//! `report.md` and `figures/<name>.svg` out.

use super::document::{Block, Document};
use super::inputs::{StudyInputs, ANALYSIS, DESIGN, SCORES, TOPICS};
use super::means::Means;
use super::sections::{
    alias, by_n, components, effects, header, parameters, ssr, strategies, topics, transfer,
};
use crate::api::*;

const VERSION: u32 = 3;

const TITLE: ParamSpec = ParamSpec {
    name: "title",
    ty: ParamType::Str,
    default: Some("One deep music representation to rule them all? Study report"),
    doc: "the report's title",
    in_key: true,
};
const TOPICS_SHOWN: ParamSpec = ParamSpec {
    name: "topics_shown",
    ty: ParamType::Int,
    default: Some("5"),
    doc: "topics listed per source in Table 2 (the first ones by index)",
    in_key: true,
};
const ITEMS_SHOWN: ParamSpec = ParamSpec {
    name: "items_shown",
    ty: ParamType::Int,
    default: Some("4"),
    doc: "strongest items listed per topic in Table 2",
    in_key: true,
};

const SHARED_LATENTS: ParamSpec = ParamSpec {
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

/// Writes the study report.
pub struct Report;

/// What the report shows besides its inputs.
pub struct Settings {
    pub title: String,
    pub topics_shown: usize,
    pub items_shown: usize,
    pub shared_latents: Vec<transfer::SharedLatent>,
}

impl Settings {
    pub fn read(params: &Params) -> Result<Self, StageError> {
        let positive = |name: &str| -> Result<usize, StageError> {
            let value = params.i64(name)?;
            usize::try_from(value)
                .ok()
                .filter(|v| *v > 0)
                .ok_or_else(|| StageError::Param {
                    name: name.into(),
                    reason: format!("must be a positive integer, got {value}"),
                })
        };
        Ok(Settings {
            title: params.str(TITLE.name)?.to_string(),
            topics_shown: positive(TOPICS_SHOWN.name)?,
            items_shown: positive(ITEMS_SHOWN.name)?,
            shared_latents: transfer::parse(&params.str_list(SHARED_LATENTS.name)?).map_err(
                |reason| StageError::Param {
                    name: SHARED_LATENTS.name.into(),
                    reason,
                },
            )?,
        })
    }
}

impl Stage for Report {
    fn name(&self) -> &'static str {
        "report"
    }
    fn version(&self) -> u32 {
        VERSION
    }
    fn doc(&self) -> &'static str {
        "The study report (the paper's Fig. 7-15, Tables 2 and 6): self-contained HTML, \
         Markdown, and each figure as SVG."
    }
    fn params(&self) -> &'static [ParamSpec] {
        &[TITLE, TOPICS_SHOWN, ITEMS_SHOWN, SHARED_LATENTS]
    }
    fn inputs(&self) -> &'static [InputSpec] {
        &[
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
        ]
    }
    fn run(&self, ctx: &StageContext) -> Result<Outputs, StageError> {
        let settings = Settings::read(ctx.params)?;
        let inputs = StudyInputs::read(ctx)?;
        let document = build(ctx.node, &inputs, &settings)?;
        let missing = document
            .sections
            .iter()
            .flat_map(|s| &s.blocks)
            .filter(|b| matches!(b, Block::Missing(_)))
            .count();
        let mut out = Outputs::default()
            .meta("figures", document.figures().count())
            .meta("missing_pieces", missing);
        for figure in document.figures() {
            out.files.insert(
                figure.path(),
                Output::Bytes(figure.svg.clone().into_bytes()),
            );
        }
        out.files.insert(
            "report.html".into(),
            Output::Bytes(document.to_html().into_bytes()),
        );
        out.files.insert(
            "report.md".into(),
            Output::Bytes(document.to_markdown().into_bytes()),
        );
        Ok(out)
    }
}

/// The whole report, section by section, in the order of the paper's story.
pub fn build(
    node: &str,
    inputs: &StudyInputs,
    settings: &Settings,
) -> Result<Document, StageError> {
    let means = Means::of(&inputs.scores)?;
    let datasets = inputs.datasets();
    Ok(Document {
        title: settings.title.clone(),
        sections: vec![
            header::section(node, VERSION, inputs),
            ssr::section(inputs, &means)?,
            transfer::section(inputs, &means, &settings.shared_latents)?,
            strategies::section(&inputs.standardized, &datasets)?,
            by_n::section(&inputs.standardized, &inputs.effects)?,
            effects::section(&inputs.effects, &inputs.pairwise, &inputs.fit)?,
            components::section(&inputs.components, &datasets),
            parameters::section()?,
            topics::section(&inputs.topics, settings.topics_shown, settings.items_shown),
            alias::section(&inputs.alias)?,
        ],
    })
}

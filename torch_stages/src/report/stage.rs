//! The `report` stage: the study's inputs in, `report.html` (self-contained),
//! `report.md` and `figures/<name>.svg` out.

use super::document::{Block, Document};
use super::inputs::StudyInputs;
use super::means::Means;
use super::sections::{
    alias, best_source, by_n, components, effects, header, map, parameters, ssr, strategies,
    topics, transfer,
};
use stages::api::*;
use stages::declarations::report::*;

/// Writes the study report.
pub struct Report;

/// What the report shows besides its inputs.
pub struct Settings {
    pub title: String,
    pub topics_shown: usize,
    pub items_shown: usize,
    pub shared_latents: Vec<transfer::SharedLatent>,
    /// The scores' name of the mapped dataset.
    pub map_target: String,
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
            map_target: params.str(MAP_TARGET.name)?.to_string(),
        })
    }
}

impl Stage for Report {
    stages::declared!(REPORT);
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
            best_source::section(&inputs.standardized, &datasets)?,
            components::section(&inputs.components, &datasets)?,
            parameters::section()?,
            topics::section(&inputs.topics, settings.topics_shown, settings.items_shown),
            map::section(inputs, &means, &settings.map_target, settings.items_shown)?,
            alias::section(&inputs.alias)?,
        ],
    })
}

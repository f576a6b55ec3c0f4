//! Section 2 (the paper's Fig. 8): how each source alone (SS-R) does on
//! each dataset, beside the MFCC and random-network baselines (and the
//! pre-trained musicnn one where it was scored).

use plotters::prelude::*;

use crate::report::document::{Block, Figure, Section};
use crate::report::inputs::StudyInputs;
use crate::report::means::{Means, MFCC, MUSICNN, RAND_PREFIX};
use crate::report::plot::{self, XAxis};
use crate::report::stats::mean;
use stages::api::StageError;
use stages::study::{Source, Strategy};

pub const FIGURE: &str = "fig08_ssr_by_source";

/// One dataset's panel: per source, the SS-R runs' mean scores.
pub struct Panel {
    pub dataset: String,
    pub metric: String,
    pub by_source: Vec<Vec<f64>>,
    pub mfcc: Option<f64>,
    pub rand: Option<f64>,
    /// The pre-trained baseline (musicnn's MSD_vgg); optional, so never
    /// named as missing.
    pub musicnn: Option<f64>,
}

pub fn section(inputs: &StudyInputs, means: &Means) -> Result<Section, StageError> {
    let mut s = Section::new("ssr", "Single sources (SS-R) against the baselines");
    let sources: Vec<Source> = Source::ALL
        .into_iter()
        .filter(|src| ssr_runs(inputs, *src).next().is_some())
        .collect();
    if sources.is_empty() {
        s.missing("the design has no SS-R run, so there is nothing to compare per source.");
        return Ok(s);
    }
    let rand_id = format!("{RAND_PREFIX}{}", Strategy::SsR.name());
    let mut panels = Vec::new();
    for dataset in inputs.datasets() {
        let by_source: Vec<Vec<f64>> = sources
            .iter()
            .map(|src| {
                ssr_runs(inputs, *src)
                    .filter_map(|id| means.get(&dataset, id))
                    .collect()
            })
            .collect();
        let absent: Vec<&str> = sources
            .iter()
            .zip(&by_source)
            .filter(|(_, v)| v.is_empty())
            .map(|(src, _)| src.name())
            .collect();
        if absent.len() == sources.len() {
            s.missing(format!("dataset {dataset} has no SS-R score."));
            continue;
        }
        if !absent.is_empty() {
            s.missing(format!(
                "dataset {dataset} has no SS-R score for {}.",
                absent.join(", ")
            ));
        }
        let panel = Panel {
            metric: means.metric.get(&dataset).cloned().unwrap_or_default(),
            mfcc: means.get(&dataset, MFCC),
            rand: means.get(&dataset, &rand_id),
            musicnn: means.get(&dataset, MUSICNN),
            by_source,
            dataset,
        };
        for (present, what) in [(panel.mfcc, "MFCC"), (panel.rand, rand_id.as_str())] {
            if present.is_none() {
                s.missing(format!(
                    "dataset {}: no {what} baseline score.",
                    panel.dataset
                ));
            }
        }
        panels.push(panel);
    }
    if panels.is_empty() {
        if inputs.scores.is_empty() {
            s.missing("the scores tables have no rows.");
        }
        return Ok(s);
    }
    let musicnn = if panels.iter().any(|p| p.musicnn.is_some()) {
        " and the pre-trained musicnn MSD_vgg (musicnn)"
    } else {
        ""
    };
    s.text(format!(
        "Each small dot is one SS-R run (its score averaged over split repeats); the large dot \
         is the mean per source. Dashed lines: the MFCC baseline, the randomly initialised \
         SS-R network (Rand){musicnn}, averaged the same way."
    ));
    s.push(Block::Figure(Figure {
        name: FIGURE.into(),
        caption: "Fig. 8 analogue: SS-R performance per learning source and target dataset, \
                  with the MFCC and Rand baselines."
            .into(),
        svg: figure(&sources, &panels)?,
    }));
    Ok(s)
}

/// The ids of the SS-R runs of one source.
fn ssr_runs(inputs: &StudyInputs, source: Source) -> impl Iterator<Item = &str> {
    inputs
        .runs
        .iter()
        .filter(move |r| r.strategy == Strategy::SsR && r.sources == [source])
        .map(|r| r.id.as_str())
}

pub fn figure(sources: &[Source], panels: &[Panel]) -> Result<String, StageError> {
    const COLS: usize = 2;
    let names: Vec<String> = sources.iter().map(|s| s.name().to_string()).collect();
    let x = XAxis::categories(&names, "learning source");
    plot::render(FIGURE, plot::grid_height(panels.len(), COLS), |root| {
        for (area, p) in plot::grid(root, panels.len(), COLS).iter().zip(panels) {
            let values = p.by_source.iter().flatten().copied();
            let y = plot::padded(values.chain(p.mfcc).chain(p.rand).chain(p.musicnn));
            let mut chart = plot::panel(area, &p.dataset, &x, y, &p.metric)?;
            for (i, runs) in p.by_source.iter().enumerate() {
                let dots = runs.iter().enumerate().map(|(j, v)| {
                    let at = (i as f64 + plot::jitter(j, runs.len()), *v);
                    Circle::new(at, plot::DOT, plot::GREY.mix(0.7).filled())
                });
                chart.draw_series(dots)?;
                if let Some(m) = mean(runs) {
                    chart.draw_series([Circle::new(
                        (i as f64, m),
                        plot::MEAN_DOT,
                        BLACK.filled(),
                    )])?;
                }
            }
            if let Some(v) = p.mfcc {
                plot::hline(&mut chart, v, plot::MFCC_COLOR, "MFCC")?;
            }
            if let Some(v) = p.rand {
                plot::hline(&mut chart, v, plot::RAND_COLOR, "Rand")?;
            }
            if let Some(v) = p.musicnn {
                plot::hline(&mut chart, v, plot::MUSICNN_COLOR, "musicnn")?;
            }
        }
        Ok(())
    })
}

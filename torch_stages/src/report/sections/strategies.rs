//! Section 3 (the paper's Fig. 9): standardised scores by strategy, one
//! panel per dataset.

use plotters::prelude::*;

use crate::report::document::{Block, Figure, Section};
use crate::report::inputs::Standardized;
use crate::report::plot::{self, XAxis};
use crate::report::stats::mean;
use stages::api::StageError;
use stages::study::Strategy;

pub const FIGURE: &str = "fig09_by_strategy";

pub fn section(rows: &[Standardized], datasets: &[String]) -> Result<Section, StageError> {
    let mut s = Section::new("strategies", "Performance by strategy");
    if rows.is_empty() {
        s.missing("the analysis has no standardised scores.");
        return Ok(s);
    }
    let strategies = present_strategies(rows);
    // The scores' datasets in their order, then any only the analysis has.
    let mut shown: Vec<&String> = datasets
        .iter()
        .filter(|d| rows.iter().any(|r| &r.dataset == *d))
        .collect();
    for r in rows {
        if !shown.contains(&&r.dataset) {
            shown.push(&r.dataset);
        }
    }
    for d in datasets.iter().filter(|d| !shown.contains(d)) {
        s.missing(format!("dataset {d} has no standardised score."));
    }
    s.text(
        "y* is the score standardised within its dataset ((y - mean) / sd). Each small dot is \
         one representation; the large dot is the strategy's mean on that dataset.",
    );
    s.push(Block::Figure(Figure {
        name: FIGURE.into(),
        caption: "Fig. 9 analogue: standardised performance y* by representation strategy, \
                  per target dataset."
            .into(),
        svg: figure(rows, &strategies, &shown)?,
    }));
    Ok(s)
}

/// The strategies with at least one row, in the canonical order.
pub fn present_strategies(rows: &[Standardized]) -> Vec<Strategy> {
    Strategy::ALL
        .into_iter()
        .filter(|s| rows.iter().any(|r| r.strategy == *s))
        .collect()
}

fn figure(
    rows: &[Standardized],
    strategies: &[Strategy],
    datasets: &[&String],
) -> Result<String, StageError> {
    const COLS: usize = 2;
    let names: Vec<String> = strategies.iter().map(|s| s.name().to_string()).collect();
    let x = XAxis::categories(&names, "strategy");
    let y = plot::padded(rows.iter().map(|r| r.y_star));
    plot::render(FIGURE, plot::grid_height(datasets.len(), COLS), |root| {
        for (area, dataset) in plot::grid(root, datasets.len(), COLS).iter().zip(datasets) {
            let mut chart = plot::panel(area, dataset, &x, y.clone(), "y*")?;
            for (i, strategy) in strategies.iter().enumerate() {
                let values: Vec<f64> = rows
                    .iter()
                    .filter(|r| &&r.dataset == dataset && r.strategy == *strategy)
                    .map(|r| r.y_star)
                    .collect();
                let color = plot::strategy_color(*strategy);
                chart.draw_series(values.iter().enumerate().map(|(j, v)| {
                    let at = (i as f64 + plot::jitter(j, values.len()), *v);
                    Circle::new(at, plot::DOT, color.mix(0.45).filled())
                }))?;
                if let Some(m) = mean(&values) {
                    chart.draw_series([Circle::new(
                        (i as f64, m),
                        plot::MEAN_DOT,
                        color.filled(),
                    )])?;
                }
            }
        }
        Ok(())
    })
}

//! Section 4 (the paper's Fig. 10): standardised scores by the number of
//! sources, one panel per strategy, with Model 1's fitted line
//! b0_r + b1_r n* (n* = 0 for SS-R, n - 2 otherwise).

use std::collections::BTreeMap;

use plotters::prelude::*;

use super::effects::model1;
use crate::report::document::{Block, Figure, Section};
use crate::report::inputs::{Effect, Standardized};
use crate::report::plot::{self, XAxis};
use crate::report::stats::mean;
use stages::api::StageError;
use stages::study::Strategy;

pub const FIGURE: &str = "fig10_by_n_sources";

/// Model 1's line for one strategy: intercept and slope in n*.
#[derive(Debug, Clone, Copy)]
pub struct Line {
    pub b0: f64,
    pub b1: f64,
}

impl Line {
    pub fn at(&self, strategy: Strategy, n: f64) -> f64 {
        let n_star = if strategy == Strategy::SsR {
            0.0
        } else {
            n - 2.0
        };
        self.b0 + self.b1 * n_star
    }
}

/// Model 1's line of a strategy. SS-R's slope is not estimable (n* is
/// always 0), so it needs only an intercept.
pub fn fitted(effects: &[Effect], strategy: Strategy) -> Option<Line> {
    let b0 = model1(effects, "b0", strategy)?.estimate;
    let b1 = match model1(effects, "b1", strategy) {
        Some(e) => e.estimate,
        None if strategy == Strategy::SsR => 0.0,
        None => return None,
    };
    Some(Line { b0, b1 })
}

pub fn section(rows: &[Standardized], effects: &[Effect]) -> Result<Section, StageError> {
    let mut s = Section::new("n-sources", "Performance by the number of sources");
    let strategies = super::strategies::present_strategies(rows);
    if strategies.is_empty() {
        s.missing("the analysis has no standardised scores.");
        return Ok(s);
    }
    let lines: Vec<Option<Line>> = strategies.iter().map(|st| fitted(effects, *st)).collect();
    for (st, line) in strategies.iter().zip(&lines) {
        if line.is_none() {
            s.missing(format!(
                "Model 1 has no b0[{st}] and b1[{st}] estimates, so {st} has no fitted line."
            ));
        }
    }
    s.text(
        "Small dots: one representation on one dataset; large dots: the mean per number of \
         sources; solid line: Model 1's fixed effects b0 + b1 n*; dashed line: SS-R's \
         intercept, for reference.",
    );
    s.push(Block::Figure(Figure {
        name: FIGURE.into(),
        caption: "Fig. 10 analogue: standardised performance y* by number of learning sources, \
                  per strategy, with Model 1's fitted lines."
            .into(),
        svg: figure(rows, &strategies, &lines, fitted(effects, Strategy::SsR))?,
    }));
    Ok(s)
}

fn figure(
    rows: &[Standardized],
    strategies: &[Strategy],
    lines: &[Option<Line>],
    ssr: Option<Line>,
) -> Result<String, StageError> {
    const COLS: usize = 3;
    let max_n = rows.iter().map(|r| r.n_sources).max().unwrap_or(1).max(8);
    let x = XAxis::integers(1, max_n, "number of sources n");
    // The range holds the data, the lines at the observed n, and SS-R's b0.
    let on_lines = rows.iter().filter_map(|r| {
        let i = strategies.iter().position(|s| *s == r.strategy)?;
        lines[i].map(|l| l.at(r.strategy, r.n_sources as f64))
    });
    let y = plot::padded(
        rows.iter()
            .map(|r| r.y_star)
            .chain(on_lines)
            .chain(ssr.map(|l| l.b0)),
    );
    plot::render(FIGURE, plot::grid_height(strategies.len(), COLS), |root| {
        let areas = plot::grid(root, strategies.len(), COLS);
        for ((area, strategy), line) in areas.iter().zip(strategies).zip(lines) {
            let color = plot::strategy_color(*strategy);
            let mut chart = plot::panel(area, strategy.name(), &x, y.clone(), "y*")?;
            let mut by_n: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
            for r in rows.iter().filter(|r| r.strategy == *strategy) {
                by_n.entry(r.n_sources).or_default().push(r.y_star);
            }
            for (n, values) in &by_n {
                chart.draw_series(values.iter().enumerate().map(|(j, v)| {
                    let at = (*n as f64 + plot::jitter(j, values.len()), *v);
                    Circle::new(at, plot::DOT, color.mix(0.35).filled())
                }))?;
                if let Some(m) = mean(values) {
                    chart.draw_series([Circle::new(
                        (*n as f64, m),
                        plot::MEAN_DOT,
                        color.filled(),
                    )])?;
                }
            }
            if let (Some(line), Some((lo, hi))) = (line, span(*strategy, &by_n)) {
                chart.draw_series(LineSeries::new(
                    [lo, hi].map(|n| (n, line.at(*strategy, n))),
                    color.stroke_width(2),
                ))?;
            }
            if let (Some(ssr), false) = (ssr, *strategy == Strategy::SsR) {
                plot::hline(&mut chart, ssr.b0, BLACK, "SS-R")?;
            }
        }
        Ok(())
    })
}

/// The x extent of a strategy's fitted line: its observed n (SS-R: a short
/// segment around n = 1).
fn span(strategy: Strategy, by_n: &BTreeMap<i64, Vec<f64>>) -> Option<(f64, f64)> {
    let lo = *by_n.keys().next()? as f64;
    let hi = *by_n.keys().next_back()? as f64;
    Some(if strategy == Strategy::SsR {
        (lo - 0.4, hi + 0.4)
    } else {
        (lo, hi)
    })
}

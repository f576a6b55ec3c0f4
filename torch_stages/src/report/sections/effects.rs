//! Section 5 (the paper's Fig. 11 and 12): the fixed effects of both
//! models with their bootstrap 95% intervals, the pairwise comparisons of
//! Model 1, and the fit's log-likelihoods and warnings, verbatim.

use plotters::prelude::*;
use serde_json::Value;

use crate::report::document::{Block, Cell, Figure, Section, Table};
use crate::report::inputs::{Effect, Pairwise};
use crate::report::plot::{self, XAxis};
use crate::report::stats::fmt;
use stages::api::StageError;
use stages::study::Strategy;

pub const MODEL1_FIGURE: &str = "fig11_model1_effects";
pub const MODEL2_FIGURE: &str = "fig12_model2_effects";
pub const MODEL2_TERMS: [&str; 4] = ["b0", "b10", "b20", "b30"];

/// Model 1's `effect` ("b0" or "b1") for one strategy: term "b0[SS-R]".
pub fn model1<'a>(effects: &'a [Effect], effect: &str, strategy: Strategy) -> Option<&'a Effect> {
    let term = format!("{effect}[{}]", strategy.name());
    effects
        .iter()
        .find(|e| e.model == "model1" && e.term == term)
}

/// One interval to draw: its axis label, the effect and its colour.
struct Mark<'a> {
    label: String,
    effect: &'a Effect,
    color: RGBColor,
}

pub fn section(
    effects: &[Effect],
    pairwise: &[Pairwise],
    fit: &Value,
) -> Result<Section, StageError> {
    let mut s = Section::new("effects", "Fixed effects of the two analysis models");
    s.text(
        "Dots: REML estimates. Thick bars: parametric bootstrap 95% intervals; thin grey bars \
         beside them: case bootstrap (resampling datasets) 95% intervals. The dashed line marks 0.",
    );
    let model1_panels: Vec<(String, Vec<Mark>)> = ["b0", "b1"]
        .into_iter()
        .map(|effect| {
            let marks: Vec<Mark> = Strategy::ALL
                .into_iter()
                .filter_map(|st| {
                    model1(effects, effect, st).map(|e| Mark {
                        label: st.name().into(),
                        effect: e,
                        color: plot::strategy_color(st),
                    })
                })
                .collect();
            (format!("{effect}: per strategy"), marks)
        })
        .filter(|(_, marks)| !marks.is_empty())
        .collect();
    if model1_panels.is_empty() {
        s.missing("the analysis has no Model 1 fixed effects (terms b0[strategy], b1[strategy]).");
    } else {
        s.push(Block::Figure(Figure {
            name: MODEL1_FIGURE.into(),
            caption: "Fig. 11 analogue: Model 1 fixed effects: strategy intercepts b0 (left) and \
                      slopes b1 in the number of sources (right), with bootstrap 95% intervals."
                .into(),
            svg: figure(MODEL1_FIGURE, &model1_panels)?,
        }));
    }
    let model2_marks: Vec<Mark> = MODEL2_TERMS
        .iter()
        .filter_map(|term| {
            effects
                .iter()
                .find(|e| e.model == "model2" && e.term == *term)
                .map(|e| Mark {
                    label: term.to_string(),
                    effect: e,
                    color: BLACK,
                })
        })
        .collect();
    if model2_marks.is_empty() {
        s.missing("the analysis has no Model 2 fixed effects (terms b0, b10, b20, b30).");
    } else {
        s.push(Block::Figure(Figure {
            name: MODEL2_FIGURE.into(),
            caption: "Fig. 12 analogue: Model 2 fixed effects: intercept b0, network size b10, \
                      number of sources b20 and their interaction b30, with bootstrap 95% intervals."
                .into(),
            svg: figure(MODEL2_FIGURE, &[("Model 2".to_string(), model2_marks)])?,
        }));
    }
    if pairwise.is_empty() {
        s.missing("the analysis has no pairwise comparisons.");
    } else {
        s.push(Block::Table(pairwise_table(pairwise)));
    }
    fit_blocks(&mut s, fit);
    Ok(s)
}

fn figure(name: &str, panels: &[(String, Vec<Mark>)]) -> Result<String, StageError> {
    plot::render(name, plot::ROW_HEIGHT + 40, |root| {
        for (area, (title, marks)) in plot::grid(root, panels.len(), panels.len())
            .iter()
            .zip(panels)
        {
            let names: Vec<String> = marks.iter().map(|m| m.label.clone()).collect();
            let x = XAxis::categories(&names, "");
            let y = plot::padded(marks.iter().flat_map(|m| {
                let e = m.effect;
                [e.estimate, e.ci.0, e.ci.1, e.case_ci.0, e.case_ci.1, 0.0]
            }));
            let mut chart = plot::panel(area, title, &x, y, "estimate")?;
            plot::hline(&mut chart, 0.0, plot::GREY, "")?;
            for (i, m) in marks.iter().enumerate() {
                let (x, e) = (i as f64, m.effect);
                let bar = |at: f64, (lo, hi): (f64, f64)| [(at, lo), (at, hi)];
                chart.draw_series(LineSeries::new(bar(x, e.ci), m.color.stroke_width(3)))?;
                chart.draw_series(LineSeries::new(
                    bar(x + 0.15, e.case_ci),
                    plot::GREY.stroke_width(1),
                ))?;
                chart.draw_series([Circle::new(
                    (x, e.estimate),
                    plot::MEAN_DOT,
                    m.color.filled(),
                )])?;
            }
        }
        Ok(())
    })
}

fn pairwise_table(pairwise: &[Pairwise]) -> Table {
    Table {
        caption: "Pairwise differences a - b with bootstrap 95% intervals (bold: the interval \
                  excludes 0)"
            .into(),
        header: [
            "model",
            "effect",
            "a",
            "b",
            "difference",
            "ci low",
            "ci high",
        ]
        .map(String::from)
        .to_vec(),
        rows: pairwise
            .iter()
            .map(|p| {
                let excludes_zero = p.ci.0 > 0.0 || p.ci.1 < 0.0;
                vec![
                    Cell::plain(&p.model),
                    Cell::plain(&p.effect),
                    Cell::plain(&p.a),
                    Cell::plain(&p.b),
                    Cell {
                        text: fmt(p.difference),
                        bold: excludes_zero,
                    },
                    Cell::plain(fmt(p.ci.0)),
                    Cell::plain(fmt(p.ci.1)),
                ]
            })
            .collect(),
    }
}

/// Words in a fit file's keys that mark what a reader must see.
const FIT_KEYS: [&str; 6] = [
    "loglik", "log_lik", "reml", "singular", "warning", "converge",
];

/// The fit's log-likelihoods, singular flags and warnings as a table, and
/// the whole fit file verbatim.
fn fit_blocks(s: &mut Section, fit: &Value) {
    let mut all = Vec::new();
    leaves(fit, String::new(), &mut all);
    let shown: Vec<Vec<Cell>> = all
        .into_iter()
        .filter(|(path, _)| {
            let path = path.to_lowercase();
            FIT_KEYS.iter().any(|k| path.contains(k))
        })
        .map(|(path, value)| vec![Cell::plain(path), Cell::plain(value)])
        .collect();
    if shown.is_empty() {
        s.missing("the fit file reports no log-likelihood, singular-fit flag or warning.");
    } else {
        s.push(Block::Table(Table {
            caption: "Fit diagnostics (REML log-likelihoods, singular fits, warnings), as the \
                      analysis wrote them"
                .into(),
            header: vec!["entry".into(), "value".into()],
            rows: shown,
        }));
    }
    s.push(Block::Verbatim {
        summary: "The analysis node's fit file".into(),
        text: serde_json::to_string_pretty(fit).unwrap_or_else(|_| fit.to_string()),
    });
}

/// Every scalar of a JSON value with its path ("model1.singular").
fn leaves(value: &Value, path: String, out: &mut Vec<(String, String)>) {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        Value::Object(map) => map.iter().for_each(|(k, v)| leaves(v, join(k), out)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .for_each(|(i, v)| leaves(v, format!("{path}[{i}]"), out)),
        Value::String(text) => out.push((path, text.clone())),
        other => out.push((path, other.to_string())),
    }
}

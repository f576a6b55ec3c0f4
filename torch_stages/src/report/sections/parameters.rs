//! Section 7 (the paper's Fig. 15): how many trainable parameters each
//! strategy's network has for 1..8 sources, counted on the real networks
//! (`model::parameter_count`), not from a formula.

use plotters::prelude::*;

use crate::model::parameter_count;
use crate::report::document::{Block, Cell, Figure, Section, Table};
use crate::report::plot::{self, XAxis};
use stages::api::StageError;
use stages::study::{Source, Strategy};

pub const FIGURE: &str = "fig15_parameters";

/// The order in which sources are added: the label sources first and
/// `self` (whose Siamese head differs) last, as in the model's reference.
fn source_order() -> Vec<Source> {
    Source::ALL[1..]
        .iter()
        .chain(&Source::ALL[..1])
        .copied()
        .collect()
}

/// Per strategy, (n, parameters) for n = 1..8 (SS-R: n = 1 only).
pub type Counts = Vec<(Strategy, Vec<(i64, usize)>)>;

pub fn counts() -> Result<Counts, StageError> {
    let order = source_order();
    Strategy::ALL
        .into_iter()
        .map(|strategy| {
            let most = if strategy == Strategy::SsR {
                1
            } else {
                order.len()
            };
            let points = (1..=most)
                .map(|n| {
                    parameter_count(strategy, &order[..n])
                        .map(|count| (n as i64, count))
                        .map_err(|e| {
                            StageError::Data(format!(
                                "parameter count of {strategy} with {n} sources: {e}"
                            ))
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok((strategy, points))
        })
        .collect()
}

pub fn section() -> Result<Section, StageError> {
    let mut s = Section::new("parameters", "Network size by number of sources");
    let counts = counts()?;
    let ssr = counts
        .iter()
        .find(|(st, _)| *st == Strategy::SsR)
        .and_then(|(_, points)| points.first())
        .map(|(_, c)| *c as f64);
    s.text(format!(
        "Sources are added in the order {}. The last column relates each network with all \
         its sources to the single-source network.",
        source_order()
            .iter()
            .map(|s| s.name())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    s.push(Block::Figure(Figure {
        name: FIGURE.into(),
        caption: "Fig. 15 analogue: number of trainable network parameters by number of learning \
                  sources, per strategy."
            .into(),
        svg: figure(&counts)?,
    }));
    let mut header = vec!["strategy".to_string()];
    header.extend((1..=8).map(|n| format!("n = {n}")));
    header.push("x SS-R".into());
    s.push(Block::Table(Table {
        caption: "Trainable parameters by strategy and number of sources".into(),
        header,
        rows: counts
            .iter()
            .map(|(strategy, points)| {
                let mut row = vec![Cell::plain(strategy.name())];
                row.extend((1..=8).map(|n| {
                    Cell::plain(
                        points
                            .iter()
                            .find(|(m, _)| *m == n)
                            .map_or(String::new(), |(_, c)| c.to_string()),
                    )
                }));
                let ratio = match (points.last(), ssr) {
                    (Some((_, c)), Some(base)) => format!("{:.2}", *c as f64 / base),
                    _ => String::new(),
                };
                row.push(Cell::plain(ratio));
                row
            })
            .collect(),
    }));
    Ok(s)
}

fn figure(counts: &Counts) -> Result<String, StageError> {
    let millions = |c: usize| c as f64 / 1e6;
    let all = counts
        .iter()
        .flat_map(|(_, p)| p.iter().map(|(_, c)| millions(*c)));
    let x = XAxis::integers(1, 8, "number of sources n");
    plot::render(FIGURE, plot::ROW_HEIGHT + 120, |root| {
        let y = plot::padded(all.chain([0.0]));
        let mut chart = plot::panel(root, "", &x, y, "parameters (millions)")?;
        for (strategy, points) in counts {
            let color = plot::strategy_color(*strategy);
            let at: Vec<(f64, f64)> = points
                .iter()
                .map(|(n, c)| (*n as f64, millions(*c)))
                .collect();
            chart
                .draw_series(LineSeries::new(at.clone(), color.stroke_width(2)))?
                .label(strategy.name())
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 18, y)], color.stroke_width(2))
                });
            chart.draw_series(
                at.iter()
                    .map(|p| Circle::new(*p, plot::DOT + 1, color.filled())),
            )?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(plot::GREY)
            .label_font(("sans-serif", 11))
            .draw()?;
        Ok(())
    })
}

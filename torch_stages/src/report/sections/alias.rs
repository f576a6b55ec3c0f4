//! Section 9 (the paper's Fig. 7): the design's alias matrix, the
//! correlations between the main effects' columns, as a heat map.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::report::document::{Block, Figure, Section};
use crate::report::inputs::AliasCell;
use crate::report::plot::{self, KeyedAxis};
use crate::report::stats::fmt;
use stages::api::StageError;

pub const FIGURE: &str = "fig07_alias_matrix";

/// Above this many rows the cells are too small to print their values.
const MAX_LABELLED: usize = 16;
const NEGATIVE: RGBColor = RGBColor(33, 102, 172);
const POSITIVE: RGBColor = RGBColor(178, 24, 43);

/// Labels in order of first appearance.
fn labels<'a>(names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for n in names {
        if !seen.iter().any(|s| s == n) {
            seen.push(n.to_string());
        }
    }
    seen
}

pub fn section(cells: &[AliasCell]) -> Result<Section, StageError> {
    let mut s = Section::new("alias", "Aliasing in the experimental design");
    if cells.is_empty() {
        s.missing("the design has no alias matrix.");
        return Ok(s);
    }
    let rows = labels(cells.iter().map(|c| c.row.as_str()));
    let columns = labels(cells.iter().map(|c| c.column.as_str()));
    let worst = cells
        .iter()
        .filter(|c| c.row != c.column && c.value.is_finite())
        .max_by(|a, b| a.value.abs().total_cmp(&b.value.abs()));
    s.text(match worst {
        Some(c) => format!(
            "The largest absolute aliasing between two different main effects is {} \
             ({} and {}). Red: positive, blue: negative, white: none.",
            fmt(c.value),
            c.row,
            c.column
        ),
        None => "The matrix has no off-diagonal cell.".into(),
    });
    s.push(Block::Figure(Figure {
        name: FIGURE.into(),
        caption: "Fig. 7 analogue: aliasing (correlation) among the main effects of the \
                  experimental design."
            .into(),
        svg: figure(cells, &rows, &columns)?,
    }));
    Ok(s)
}

/// White at 0, towards red (positive) or blue (negative) with |value|.
fn color(value: f64) -> RGBColor {
    let t = value.abs().min(1.0);
    let end = if value < 0.0 { NEGATIVE } else { POSITIVE };
    let mix = |c: u8| (255.0 + t * (c as f64 - 255.0)).round() as u8;
    RGBColor(mix(end.0), mix(end.1), mix(end.2))
}

fn figure(cells: &[AliasCell], rows: &[String], columns: &[String]) -> Result<String, StageError> {
    let height = (34 * rows.len() as u32 + 60).min(plot::WIDTH);
    plot::render(FIGURE, height, |root| {
        let (nx, ny) = (columns.len() as f64, rows.len() as f64);
        let x_keys: Vec<f64> = (0..columns.len()).map(|i| i as f64 + 0.5).collect();
        let y_keys: Vec<f64> = (0..rows.len()).map(|i| i as f64 + 0.5).collect();
        let name = |names: &[String], v: f64, flip: bool| {
            let i = v.floor() as usize;
            let i = if flip {
                names.len().wrapping_sub(i + 1)
            } else {
                i
            };
            names.get(i).cloned().unwrap_or_default()
        };
        let x_label = |v: &f64| name(columns, *v, false);
        let y_label = |v: &f64| name(rows, *v, true);
        let mut chart = ChartBuilder::on(root)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(110)
            .build_cartesian_2d(
                KeyedAxis {
                    range: 0.0..nx,
                    keys: x_keys,
                },
                KeyedAxis {
                    range: 0.0..ny,
                    keys: y_keys,
                },
            )?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .label_style(("sans-serif", 11))
            .draw()?;
        let labelled = rows.len() <= MAX_LABELLED;
        for c in cells {
            let (Some(i), Some(j)) = (
                rows.iter().position(|r| *r == c.row),
                columns.iter().position(|col| *col == c.column),
            ) else {
                continue;
            };
            let (x, y) = (j as f64, ny - 1.0 - i as f64);
            let fill = if c.value.is_finite() {
                color(c.value)
            } else {
                plot::GREY
            };
            chart.draw_series([Rectangle::new([(x, y), (x + 1.0, y + 1.0)], fill.filled())])?;
            if labelled && c.value.is_finite() {
                let ink = if c.value.abs() > 0.6 { WHITE } else { BLACK };
                chart.draw_series([Text::new(
                    format!("{:.2}", c.value),
                    (x + 0.5, y + 0.5),
                    ("sans-serif", 10)
                        .into_font()
                        .color(&ink)
                        .pos(Pos::new(HPos::Center, VPos::Center)),
                )])?;
            }
        }
        Ok(())
    })
}

//! What the figures share: an SVG canvas, a grid of panels, a panel with a
//! labelled x axis (categories, small integers or round numbers at key
//! points), the palettes and the mark sizes.

use std::error::Error;
use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use stages::api::StageError;
use stages::study::{Source, Strategy};

pub type Area<'b> = DrawingArea<SVGBackend<'b>, Shift>;
pub type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<KeyedAxis, RangedCoordf64>>;
pub type Drawn = Result<(), Box<dyn Error>>;

/// Figure width in pixels; panels share it.
pub const WIDTH: u32 = 960;
/// Height of one row of panels.
pub const ROW_HEIGHT: u32 = 280;

/// Radius of one observation's dot, and of a group mean's dot.
pub const DOT: i32 = 3;
pub const MEAN_DOT: i32 = 5;

pub const GREY: RGBColor = RGBColor(120, 120, 120);
pub const MFCC_COLOR: RGBColor = RGBColor(204, 121, 167);
pub const RAND_COLOR: RGBColor = RGBColor(90, 90, 90);
pub const MUSICNN_COLOR: RGBColor = RGBColor(0, 158, 115);

/// One colour per strategy (Okabe-Ito, safe for colour-blind readers).
pub fn strategy_color(strategy: Strategy) -> RGBColor {
    match strategy {
        Strategy::SsR => RGBColor(0, 0, 0),
        Strategy::MsSrFc => RGBColor(230, 159, 0),
        Strategy::MsCr6 => RGBColor(86, 180, 233),
        Strategy::MsCr4 => RGBColor(0, 158, 115),
        Strategy::MsCr2 => RGBColor(0, 114, 178),
        Strategy::MssCr => RGBColor(213, 94, 0),
    }
}

/// One colour per learning source (Okabe-Ito's eight).
pub fn source_color(source: Source) -> RGBColor {
    let i = Source::ALL.iter().position(|s| *s == source).unwrap_or(0);
    [
        RGBColor(0, 0, 0),
        RGBColor(230, 159, 0),
        RGBColor(86, 180, 233),
        RGBColor(0, 158, 115),
        RGBColor(240, 228, 66),
        RGBColor(0, 114, 178),
        RGBColor(213, 94, 0),
        RGBColor(204, 121, 167),
    ][i]
}

/// The `i`-th colour of Tableau's ten categories (repeating after ten;
/// the figures that use it also name each category in place).
pub fn category_color(i: usize) -> RGBColor {
    [
        RGBColor(78, 121, 167),
        RGBColor(242, 142, 43),
        RGBColor(225, 87, 89),
        RGBColor(118, 183, 178),
        RGBColor(89, 161, 79),
        RGBColor(237, 201, 72),
        RGBColor(176, 122, 161),
        RGBColor(255, 157, 167),
        RGBColor(156, 117, 95),
        RGBColor(186, 176, 172),
    ][i % 10]
}

/// Draws a figure of `height` pixels into an SVG string.
pub fn render(
    name: &str,
    height: u32,
    draw: impl FnOnce(&Area) -> Drawn,
) -> Result<String, StageError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        let drawn = root
            .fill(&WHITE)
            .map_err(Into::into)
            .and_then(|_| draw(&root))
            .and_then(|_| root.present().map_err(Into::into));
        drawn.map_err(|e| StageError::Data(format!("figure {name}: {e}")))?;
    }
    Ok(svg)
}

/// The height of a grid of `n` panels in `cols` columns.
pub fn grid_height(n: usize, cols: usize) -> u32 {
    n.div_ceil(cols).max(1) as u32 * ROW_HEIGHT
}

/// `n` panels, row-major in `cols` columns.
pub fn grid<'b>(area: &Area<'b>, n: usize, cols: usize) -> Vec<Area<'b>> {
    let rows = n.div_ceil(cols).max(1);
    area.split_evenly((rows, cols))
        .into_iter()
        .take(n)
        .collect()
}

/// A linear axis whose ticks sit exactly at given points (categories, or
/// the integers of a count), so that every tick can carry a name.
#[derive(Clone)]
pub struct KeyedAxis {
    pub range: Range<f64>,
    pub keys: Vec<f64>,
}

impl Ranged for KeyedAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, (from, to): (i32, i32)) -> i32 {
        let share = (value - self.range.start) / (self.range.end - self.range.start);
        from + (share * (to - from) as f64).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, _: Hint) -> Vec<f64> {
        self.keys.clone()
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

/// The x axis of a panel: labelled key points and the visible range.
pub struct XAxis {
    pub keys: Vec<(f64, String)>,
    pub range: (f64, f64),
    pub desc: String,
}

impl XAxis {
    /// Categories at 0, 1, 2, ...
    pub fn categories(names: &[String], desc: &str) -> Self {
        XAxis {
            keys: names
                .iter()
                .enumerate()
                .map(|(i, n)| (i as f64, n.clone()))
                .collect(),
            range: (-0.6, names.len() as f64 - 0.4),
            desc: desc.into(),
        }
    }

    /// The integers `from..=to`.
    pub fn integers(from: i64, to: i64, desc: &str) -> Self {
        XAxis {
            keys: (from..=to).map(|i| (i as f64, i.to_string())).collect(),
            range: (from as f64 - 0.5, to as f64 + 0.5),
            desc: desc.into(),
        }
    }

    /// A continuous range with ticks at round numbers (steps of 1, 2 or 5
    /// times a power of ten, about five of them).
    pub fn linear(range: Range<f64>, desc: &str) -> Self {
        let raw = (range.end - range.start) / 5.0;
        let power = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 5.0, 10.0]
            .into_iter()
            .map(|m| m * power)
            .find(|s| *s >= raw)
            .unwrap_or(10.0 * power);
        let first = (range.start / step).ceil() as i64;
        let last = (range.end / step).floor() as i64;
        let decimals = (-step.log10().floor()).max(0.0) as usize;
        XAxis {
            keys: (first..=last)
                .map(|k| {
                    let v = k as f64 * step;
                    (v, format!("{v:.decimals$}"))
                })
                .collect(),
            range: (range.start, range.end),
            desc: desc.into(),
        }
    }

    fn axis(&self) -> KeyedAxis {
        KeyedAxis {
            range: self.range.0..self.range.1,
            keys: self.keys.iter().map(|(k, _)| *k).collect(),
        }
    }

    fn label(&self, x: f64) -> String {
        self.keys
            .iter()
            .find(|(k, _)| (k - x).abs() < 1e-9)
            .map(|(_, name)| name.clone())
            .unwrap_or_default()
    }
}

/// A titled panel with its mesh drawn, ready for marks.
pub fn panel<'a, 'b>(
    area: &'a Area<'b>,
    title: &str,
    x: &XAxis,
    y: Range<f64>,
    y_desc: &str,
) -> Result<Chart<'a, 'b>, Box<dyn Error>> {
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 15))
        .margin(8)
        .x_label_area_size(38)
        .y_label_area_size(60)
        .build_cartesian_2d(x.axis(), y)?;
    let label = |v: &f64| x.label(*v);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(WHITE)
        .bold_line_style(RGBColor(225, 225, 225))
        .y_labels(6)
        .x_label_formatter(&label)
        .x_desc(x.desc.as_str())
        .y_desc(y_desc)
        .label_style(("sans-serif", 11))
        .axis_desc_style(("sans-serif", 12))
        .draw()?;
    Ok(chart)
}

/// The range of `values` padded by 6% on each side; (0, 1) for none, and
/// a unit window around a single value.
pub fn padded(values: impl IntoIterator<Item = f64>) -> Range<f64> {
    let (lo, hi) = values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if lo > hi {
        0.0..1.0
    } else if hi - lo < 1e-12 {
        lo - 0.5..hi + 0.5
    } else {
        let pad = 0.06 * (hi - lo);
        lo - pad..hi + pad
    }
}

/// A deterministic horizontal spread for the `index`-th of `count` dots in
/// one category, so that equal values stay visible.
pub fn jitter(index: usize, count: usize) -> f64 {
    if count <= 1 {
        0.0
    } else {
        0.3 * (index as f64 / (count - 1) as f64 - 0.5)
    }
}

/// A horizontal line across the panel at `y`, labelled at its right end.
pub fn hline(chart: &mut Chart, y: f64, color: RGBColor, label: &str) -> Drawn {
    let (x0, x1) = (chart.x_range().start, chart.x_range().end);
    chart.draw_series(DashedLineSeries::new(
        [(x0, y), (x1, y)],
        6,
        4,
        color.stroke_width(1),
    ))?;
    if !label.is_empty() {
        chart.draw_series([Text::new(
            label.to_string(),
            (x1, y),
            ("sans-serif", 10)
                .into_font()
                .color(&color)
                .pos(Pos::new(HPos::Right, VPos::Bottom)),
        )])?;
    }
    Ok(())
}

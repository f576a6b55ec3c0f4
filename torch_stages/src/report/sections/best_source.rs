//! The paper's Fig. 13: standardised scores by the number of sources, one
//! panel per dataset, split by whether a representation was learned with
//! that dataset's best single source (the source whose SS-R runs have the
//! highest mean y* there). Each group gets a least-squares line with the
//! 95% band of its mean: do the other sources make up for leaving the best
//! one out?

use plotters::prelude::*;

use crate::report::document::{Block, Figure, Section};
use crate::report::inputs::Standardized;
use crate::report::plot::{self, XAxis};
use crate::report::stats::{mean, LineFit};
use stages::api::StageError;
use stages::study::{Source, Strategy};

pub const FIGURE: &str = "fig13_best_source";

/// One dataset's panel.
pub struct Panel<'a> {
    pub dataset: String,
    pub best: Source,
    /// The rows learned with the best source, and those without it.
    pub groups: [Vec<&'a Standardized>; 2],
    pub fits: [Option<LineFit>; 2],
}

/// The source with the highest mean y* over its SS-R rows on `dataset`.
pub fn best_source(rows: &[Standardized], dataset: &str) -> Option<Source> {
    Source::ALL
        .into_iter()
        .filter_map(|source| {
            let values: Vec<f64> = rows
                .iter()
                .filter(|r| {
                    r.dataset == dataset && r.strategy == Strategy::SsR && r.sources == [source]
                })
                .map(|r| r.y_star)
                .collect();
            mean(&values).map(|m| (source, m))
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(source, _)| source)
}

pub fn panels<'a>(rows: &'a [Standardized], datasets: &[String]) -> Vec<Panel<'a>> {
    datasets
        .iter()
        .filter_map(|dataset| {
            let best = best_source(rows, dataset)?;
            let here = rows.iter().filter(|r| &r.dataset == dataset);
            let (with, without): (Vec<_>, Vec<_>) = here.partition(|r| r.sources.contains(&best));
            let fit = |group: &[&Standardized]| {
                let points: Vec<(f64, f64)> = group
                    .iter()
                    .map(|r| (r.n_sources as f64, r.y_star))
                    .collect();
                LineFit::of(&points)
            };
            Some(Panel {
                dataset: dataset.clone(),
                best,
                fits: [fit(&with), fit(&without)],
                groups: [with, without],
            })
        })
        .collect()
}

pub fn section(rows: &[Standardized], datasets: &[String]) -> Result<Section, StageError> {
    let mut s = Section::new("best-source", "With and without the best single source");
    let panels = panels(rows, datasets);
    for d in datasets
        .iter()
        .filter(|d| !panels.iter().any(|p| &p.dataset == *d))
    {
        s.missing(format!(
            "dataset {d} has no standardised SS-R score, so no best single source."
        ));
    }
    if panels.is_empty() {
        return Ok(s);
    }
    let most = rows.iter().map(|r| r.n_sources).max().unwrap_or(1);
    let at = |fit: &Option<LineFit>| {
        fit.map_or("no line".to_string(), |f| {
            format!("{:.2}", f.at(most as f64))
        })
    };
    let lines: Vec<String> = panels
        .iter()
        .map(|p| {
            format!(
                "{}: best single source {}; at n = {most} the line with it is at {}, without it \
                 at {}",
                p.dataset,
                p.best,
                at(&p.fits[0]),
                at(&p.fits[1])
            )
        })
        .collect();
    s.text(format!(
        "Per dataset, every representation's y* by its number of sources. Filled dots: learned \
         with the dataset's best single source (highest mean SS-R y* there), empty dots: \
         without it; colour: strategy. Solid line and dark band: least-squares fit and 95% \
         interval of its mean for the representations with it; grey dashed line and light \
         band: without it. {}.",
        lines.join("; ")
    ));
    s.push(Block::Figure(Figure {
        name: FIGURE.into(),
        caption: "Fig. 13 analogue: standardised performance y* by number of learning sources, \
                  with (filled, solid) and without (empty, dashed) the dataset's best SS-R \
                  source, with linear fits and their 95% intervals."
            .into(),
        svg: figure(&panels, most)?,
    }));
    Ok(s)
}

/// The fit's band over `lo..=hi`: upper edge left to right, then the lower
/// edge back; None without a band.
fn band(fit: &LineFit, lo: f64, hi: f64) -> Option<Vec<(f64, f64)>> {
    const STEPS: usize = 24;
    let xs: Vec<f64> = (0..=STEPS)
        .map(|k| lo + (hi - lo) * k as f64 / STEPS as f64)
        .collect();
    let upper = xs
        .iter()
        .map(|&x| Some((x, fit.at(x) + fit.half_width(x)?)));
    let lower = xs
        .iter()
        .rev()
        .map(|&x| Some((x, fit.at(x) - fit.half_width(x)?)));
    upper.chain(lower).collect()
}

fn figure(panels: &[Panel], most: i64) -> Result<String, StageError> {
    const COLS: usize = 2;
    let max_n = most.max(2);
    let x = XAxis::integers(1, max_n, "number of sources n");
    let (lo, hi) = (1.0, max_n as f64);
    // Per panel, the confidence band of each of its two fits.
    type Bands = [Option<Vec<(f64, f64)>>; 2];
    let bands: Vec<Bands> = panels
        .iter()
        .map(|p| p.fits.map(|f| f.and_then(|f| band(&f, lo, hi))))
        .collect();
    let y = plot::padded(
        panels
            .iter()
            .flat_map(|p| p.groups.iter().flatten().map(|r| r.y_star))
            .chain(bands.iter().flatten().flatten().flatten().map(|p| p.1)),
    );
    plot::render(FIGURE, plot::grid_height(panels.len(), COLS), |root| {
        for ((area, p), bands) in plot::grid(root, panels.len(), COLS)
            .iter()
            .zip(panels)
            .zip(&bands)
        {
            let title = format!("{} (best: {})", p.dataset, p.best);
            let mut chart = plot::panel(area, &title, &x, y.clone(), "y*")?;
            for (band, color) in bands.iter().zip([BLACK.mix(0.18), plot::GREY.mix(0.12)]) {
                if let Some(band) = band {
                    chart.draw_series([Polygon::new(band.clone(), color.filled())])?;
                }
            }
            let [with, without] = &p.fits;
            if let Some(f) = with {
                chart.draw_series(LineSeries::new(
                    [lo, hi].map(|n| (n, f.at(n))),
                    BLACK.stroke_width(2),
                ))?;
            }
            if let Some(f) = without {
                chart.draw_series(DashedLineSeries::new(
                    [lo, hi].map(|n| (n, f.at(n))),
                    8,
                    5,
                    plot::GREY.stroke_width(2),
                ))?;
            }
            for n in 1..=max_n {
                let at_n: Vec<(bool, &Standardized)> = p
                    .groups
                    .iter()
                    .enumerate()
                    .flat_map(|(g, rows)| rows.iter().map(move |r| (g == 0, *r)))
                    .filter(|(_, r)| r.n_sources == n)
                    .collect();
                chart.draw_series(at_n.iter().enumerate().map(|(j, (with, r))| {
                    let at = (n as f64 + plot::jitter(j, at_n.len()), r.y_star);
                    let color = plot::strategy_color(r.strategy);
                    let style = if *with {
                        color.filled()
                    } else {
                        color.stroke_width(1)
                    };
                    Circle::new(at, plot::DOT, style)
                }))?;
            }
        }
        Ok(())
    })
}

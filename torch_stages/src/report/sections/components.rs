//! Section 6 (the paper's Table 6 and Fig. 14): the variance component of
//! each source within each dataset (non-SS-R runs), as a percentage of the
//! dataset's summed components, and how these shares correlate with the
//! source's standardised SS-R performance (Pearson; the paper found 0.38
//! overall), as a table per source and as a scatter of all cells.

use plotters::prelude::*;

use crate::report::document::{Block, Cell, Figure, Section, Table};
use crate::report::inputs::Component;
use crate::report::plot::{self, XAxis};
use crate::report::stats::{fmt, pearson, LineFit};
use stages::analysis::components::shares;
use stages::api::StageError;
use stages::study::Source;

pub const FIGURE: &str = "fig14_share_vs_ssr";

/// Per source (in canonical order, unknown names after), its correlation
/// across datasets, then the correlation over all (dataset, source) cells.
pub struct Correlations {
    pub per_source: Vec<(String, Option<f64>, usize)>,
    pub overall: Option<f64>,
}

pub fn correlations(components: &[Component]) -> Correlations {
    let shared = with_shares(components);
    let per_source = sources(components)
        .into_iter()
        .map(|source| {
            let pairs: Vec<(f64, f64)> = shared
                .iter()
                .filter(|(c, _)| c.source == source)
                .map(|(c, share)| (*share, c.ssr_y_star))
                .collect();
            let usable = pairs
                .iter()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .count();
            (source, pearson(&pairs), usable)
        })
        .collect();
    let all: Vec<(f64, f64)> = shared
        .iter()
        .map(|(c, share)| (*share, c.ssr_y_star))
        .collect();
    Correlations {
        per_source,
        overall: pearson(&all),
    }
}

/// Each component with its share of its dataset's summed components
/// ([`shares`], the analysis' definition), datasets in order of appearance.
fn with_shares(components: &[Component]) -> Vec<(&Component, f64)> {
    let mut datasets: Vec<&str> = Vec::new();
    for c in components {
        if !datasets.contains(&c.dataset.as_str()) {
            datasets.push(&c.dataset);
        }
    }
    datasets
        .into_iter()
        .flat_map(|d| {
            let here: Vec<&Component> = components.iter().filter(|c| c.dataset == d).collect();
            let share = shares(&here.iter().map(|c| c.variance).collect::<Vec<_>>());
            here.into_iter().zip(share)
        })
        .collect()
}

/// The sources of the table, canonical ones first.
fn sources(components: &[Component]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for c in components {
        if !names.contains(&c.source) {
            names.push(c.source.clone());
        }
    }
    let rank = |name: &String| {
        Source::ALL
            .iter()
            .position(|s| s.name() == name)
            .unwrap_or(Source::ALL.len())
    };
    names.sort_by_key(rank);
    names
}

pub fn section(components: &[Component], datasets: &[String]) -> Result<Section, StageError> {
    let mut s = Section::new("variance", "Variance components of the sources");
    if components.is_empty() {
        s.missing("the analysis has no variance components.");
        return Ok(s);
    }
    let mut columns: Vec<String> = datasets
        .iter()
        .filter(|d| components.iter().any(|c| &c.dataset == *d))
        .cloned()
        .collect();
    for c in components {
        if !columns.contains(&c.dataset) {
            columns.push(c.dataset.clone());
        }
    }
    for d in datasets.iter().filter(|d| !columns.contains(d)) {
        s.missing(format!("dataset {d} has no variance components."));
    }
    s.text(
        "Per dataset, each source's variance component on the non-SS-R runs, as a percentage \
         of the dataset's summed components (bold: the dataset's largest). A large component \
         means that having the source or not makes a large difference on that dataset.",
    );
    s.push(Block::Table(percent_table(components, &columns)));
    scatter(&mut s, components)?;
    let cor = correlations(components);
    let mut rows: Vec<Vec<Cell>> = cor
        .per_source
        .iter()
        .map(|(source, r, n)| {
            vec![
                Cell::plain(source),
                Cell::plain(r.map_or("NA".into(), fmt)),
                Cell::plain(n.to_string()),
            ]
        })
        .collect();
    let cells = components
        .iter()
        .filter(|c| c.variance.is_finite() && c.ssr_y_star.is_finite())
        .count();
    rows.push(vec![
        Cell {
            text: "all (dataset, source) cells".into(),
            bold: true,
        },
        Cell {
            text: cor.overall.map_or("NA".into(), fmt),
            bold: true,
        },
        Cell::plain(cells.to_string()),
    ]);
    s.push(Block::Table(Table {
        caption: "Pearson correlation between a source's share of its dataset's summed \
                  components and its standardised SS-R performance (across datasets; NA: fewer than 3 datasets \
                  with both, or no variation)"
            .into(),
        header: vec!["source".into(), "r".into(), "datasets".into()],
        rows,
    }));
    Ok(s)
}

/// One cell of Fig. 14: a source on a dataset.
pub struct Point {
    pub source: String,
    pub ssr_y_star: f64,
    /// The component as a percentage of the dataset's summed components.
    pub percent: f64,
}

/// The cells with both an SS-R score and a share, each share computed
/// as the analysis computes it.
pub fn points(components: &[Component]) -> Vec<Point> {
    with_shares(components)
        .into_iter()
        .filter(|(c, share)| share.is_finite() && c.ssr_y_star.is_finite())
        .map(|(c, share)| Point {
            source: c.source.clone(),
            ssr_y_star: c.ssr_y_star,
            percent: 100.0 * share,
        })
        .collect()
}

/// Fig. 14: share against SS-R y*, a colour per source, and the pooled
/// least-squares line.
fn scatter(s: &mut Section, components: &[Component]) -> Result<(), StageError> {
    let points = points(components);
    let pairs: Vec<(f64, f64)> = points.iter().map(|p| (p.ssr_y_star, p.percent)).collect();
    let Some(fit) = LineFit::of(&pairs) else {
        s.missing(
            "Fig. 14 needs cells with both a variance component and an SS-R score at two or \
             more SS-R levels.",
        );
        return Ok(());
    };
    s.text(format!(
        "Each dot of Fig. 14 is one source on one dataset: its standardised SS-R performance \
         against its share of the dataset's summed components (the percentages above). Over \
         the {} cells, r = {} (the analysis' definition, on shares); the dashed line is their \
         least-squares fit.",
        pairs.len(),
        pearson(&pairs).map_or("NA".into(), fmt)
    ));
    s.push(Block::Figure(Figure {
        name: FIGURE.into(),
        caption: "Fig. 14 analogue: variance component (% of the dataset's total) against the \
                  source's standardised SS-R performance, one dot per (dataset, source)."
            .into(),
        svg: scatter_figure(&points, &sources(components), &fit)?,
    }));
    Ok(())
}

fn scatter_figure(
    points: &[Point],
    sources: &[String],
    fit: &LineFit,
) -> Result<String, StageError> {
    let xs = plot::padded(points.iter().map(|p| p.ssr_y_star));
    let x = XAxis::linear(xs.clone(), "standardised SS-R performance y*");
    let y = plot::padded(points.iter().map(|p| p.percent).chain([0.0]));
    plot::render(FIGURE, plot::ROW_HEIGHT + 140, |root| {
        let mut chart = plot::panel(root, "", &x, y, "% of the dataset's components")?;
        chart.draw_series(DashedLineSeries::new(
            [xs.start, xs.end].map(|v| (v, fit.at(v))),
            6,
            4,
            plot::GREY.stroke_width(1),
        ))?;
        for name in sources {
            let color = name.parse().map_or(plot::GREY, plot::source_color);
            let mine = points.iter().filter(|p| &p.source == name);
            chart
                .draw_series(mine.map(|p| {
                    Circle::new((p.ssr_y_star, p.percent), plot::MEAN_DOT, color.filled())
                }))?
                .label(name.as_str())
                .legend(move |(x, y)| Rectangle::new([(x, y - 4), (x + 8, y + 4)], color.filled()));
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

fn percent_table(components: &[Component], datasets: &[String]) -> Table {
    let cell = |d: &str, src: &str| {
        components
            .iter()
            .find(|c| c.dataset == d && c.source == src)
            .map(|c| c.variance)
    };
    let total = |d: &str| -> f64 {
        components
            .iter()
            .filter(|c| c.dataset == d && c.variance.is_finite())
            .map(|c| c.variance)
            .sum()
    };
    let largest = |d: &str| -> Option<f64> {
        components
            .iter()
            .filter(|c| c.dataset == d && c.variance.is_finite())
            .map(|c| c.variance)
            .reduce(f64::max)
    };
    let mut rows: Vec<Vec<Cell>> = sources(components)
        .iter()
        .map(|src| {
            let mut row = vec![Cell::plain(src)];
            for d in datasets {
                row.push(match cell(d, src) {
                    Some(v) if v.is_finite() && total(d) > 0.0 => Cell {
                        text: format!("{:.1}", 100.0 * v / total(d)),
                        bold: Some(v) == largest(d),
                    },
                    Some(_) => Cell::plain("NA"),
                    None => Cell::plain(""),
                });
            }
            row
        })
        .collect();
    let mut totals = vec![Cell::plain("total variance")];
    totals.extend(datasets.iter().map(|d| Cell::plain(fmt(total(d)))));
    rows.push(totals);
    let mut header = vec!["source".to_string()];
    header.extend(datasets.iter().cloned());
    Table {
        caption: "Table 6 analogue: variance components (% of the dataset's total) of the \
                  learning sources within each target dataset, non-SS-R representations"
            .into(),
        header,
        rows,
    }
}

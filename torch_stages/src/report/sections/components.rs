//! Section 6 (the paper's Table 6): the variance component of each source
//! within each dataset (non-SS-R runs), as a percentage of the dataset's
//! summed components, and how the components correlate with the source's
//! standardised SS-R performance (Pearson; the paper found 0.38 overall).

use crate::report::document::{Block, Cell, Section, Table};
use crate::report::inputs::Component;
use crate::report::stats::{fmt, pearson};
use stages::study::Source;

/// Per source (in canonical order, unknown names after), its correlation
/// across datasets, then the correlation over all (dataset, source) cells.
pub struct Correlations {
    pub per_source: Vec<(String, Option<f64>, usize)>,
    pub overall: Option<f64>,
}

pub fn correlations(components: &[Component]) -> Correlations {
    let per_source = sources(components)
        .into_iter()
        .map(|source| {
            let pairs: Vec<(f64, f64)> = components
                .iter()
                .filter(|c| c.source == source)
                .map(|c| (c.variance, c.ssr_y_star))
                .collect();
            let usable = pairs
                .iter()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .count();
            (source, pearson(&pairs), usable)
        })
        .collect();
    let all: Vec<(f64, f64)> = components
        .iter()
        .map(|c| (c.variance, c.ssr_y_star))
        .collect();
    Correlations {
        per_source,
        overall: pearson(&all),
    }
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

pub fn section(components: &[Component], datasets: &[String]) -> Section {
    let mut s = Section::new("variance", "Variance components of the sources");
    if components.is_empty() {
        s.missing("the analysis has no variance components.");
        return s;
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
        caption: "Pearson correlation between a source's variance component and its \
                  standardised SS-R performance (across datasets; NA: fewer than 3 datasets \
                  with both, or no variation)"
            .into(),
        header: vec!["source".into(), "r".into(), "datasets".into()],
        rows,
    }));
    s
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

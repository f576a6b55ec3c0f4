//! The paper's Fig. 16: a t-SNE map (`report::tsne`) of one multi-source
//! model's vectors of the genre target's tracks, coloured by genre, with
//! the strongest topics that each block of the representation predicts.
//! The paper overlays topic terms on zoomed regions of its map; here a
//! region is a genre: per genre and per label source, the topic with the
//! highest mean predicted probability over the genre's tracks (the
//! source's output head applied to its block of the track vectors' mean
//! part). Its items come from the `topics` input, as in Table 2.

use std::collections::BTreeSet;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::report::document::{Block, Cell, Figure, Section, Table};
use crate::report::inputs::StudyInputs;
use crate::report::map_inputs::{Head, Labels, Model, Vectors};
use crate::report::means::Means;
use crate::report::plot;
use crate::report::stats::fmt;
use crate::report::tsne::{self, Embedding};
use stages::api::StageError;
use stages::declarations::report::{MAP_LABELS, MAP_MODEL, MAP_VECTORS};
use stages::study::Source;

pub const FIGURE: &str = "fig16_map";

/// Width of the map; the legend takes the rest of the figure.
const MAP_WIDTH: u32 = 600;
/// Topic names per legend line.
const LEGEND_LINE: usize = 44;

/// The labelled tracks, mapped.
pub struct Map {
    pub genres: Vec<String>,
    /// Per mapped track: its genre's index and its row in the vectors.
    pub genre_of: Vec<usize>,
    pub rows: Vec<usize>,
    pub embedding: Embedding,
}

impl Map {
    /// The share of tracks whose nearest neighbour in the map has their
    /// genre, and what drawing the neighbour at random would give.
    pub fn neighbour_agreement(&self) -> (f64, f64) {
        let y = &self.embedding.points;
        let n = y.len();
        let same = (0..n)
            .filter(|&i| {
                let d = |j: usize| (y[i][0] - y[j][0]).powi(2) + (y[i][1] - y[j][1]).powi(2);
                let nearest = (0..n)
                    .filter(|&j| j != i)
                    .min_by(|&a, &b| d(a).total_cmp(&d(b)));
                nearest.is_some_and(|j| self.genre_of[j] == self.genre_of[i])
            })
            .count();
        let chance: f64 = (0..self.genres.len())
            .map(|g| {
                let k = self.genre_of.iter().filter(|&&h| h == g).count() as f64;
                k * (k - 1.0)
            })
            .sum::<f64>()
            / (n as f64 * (n as f64 - 1.0));
        (same as f64 / n as f64, chance)
    }
}

/// The map of the labelled tracks, or why there is none.
pub fn map(vectors: &Vectors, labels: &Labels) -> Result<Map, String> {
    let genres: Vec<String> = labels
        .by_track
        .values()
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let (rows, genre_of): (Vec<usize>, Vec<usize>) = vectors
        .ids
        .iter()
        .enumerate()
        .filter_map(|(i, id)| {
            let genre = labels.by_track.get(id)?;
            Some((i, genres.iter().position(|g| g == genre)?))
        })
        .unzip();
    if rows.len() < 4 {
        return Err(format!(
            "only {} of the {} tracks of node {} have a label in node {}: a map needs 4.",
            rows.len(),
            vectors.ids.len(),
            vectors.node,
            labels.node
        ));
    }
    let embedding = tsne::embed(&standardised(vectors, &rows), rows.len(), vectors.width);
    Ok(Map {
        genres,
        genre_of,
        rows,
        embedding,
    })
}

/// The rows' vectors with each dimension scaled to mean 0 and standard
/// deviation 1 over them (0 where constant), as the probes see them.
fn standardised(vectors: &Vectors, rows: &[usize]) -> Vec<f64> {
    let w = vectors.width;
    let n = rows.len() as f64;
    let mut out: Vec<f64> = rows
        .iter()
        .flat_map(|&r| {
            vectors.values[r * w..(r + 1) * w]
                .iter()
                .map(|v| f64::from(*v))
        })
        .collect();
    for k in 0..w {
        let column = || out.iter().skip(k).step_by(w);
        let mean = column().sum::<f64>() / n;
        let sd = (column().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
        for v in out.iter_mut().skip(k).step_by(w) {
            *v = if sd > 1e-12 { (*v - mean) / sd } else { 0.0 };
        }
    }
    out
}

/// Per genre, a head's strongest topic and its mean probability.
pub fn strongest(map: &Map, vectors: &Vectors, head: &Head) -> Vec<(usize, f64)> {
    let w = vectors.width;
    let mut sums = vec![vec![0.0; head.bias.len()]; map.genres.len()];
    for (&row, &g) in map.rows.iter().zip(&map.genre_of) {
        let logits = head.logits(&vectors.values[row * w..(row + 1) * w]);
        let top = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = logits.iter().map(|l| (l - top).exp()).collect();
        let total: f64 = e.iter().sum();
        for (s, v) in sums[g].iter_mut().zip(&e) {
            *s += v / total;
        }
    }
    sums.iter()
        .enumerate()
        .map(|(g, s)| {
            let k = map.genre_of.iter().filter(|&&h| h == g).count().max(1) as f64;
            let (t, v) = s
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map_or((0, 0.0), |(t, v)| (t, *v));
            (t, v / k)
        })
        .collect()
}

pub fn section(
    inputs: &StudyInputs,
    means: &Means,
    target: &str,
    items_shown: usize,
) -> Result<Section, StageError> {
    let mut s = Section::new("map", "A map of one multi-source representation");
    let (Some(vectors), Some(labels)) = (&inputs.map.vectors, &inputs.map.labels) else {
        s.missing(format!(
            "no map: it needs `{MAP_VECTORS}` (an extract node of one multi-source model on \
             the genre target {target}) and `{MAP_LABELS}` (that target's manifest), and the \
             report was given {}.",
            match (&inputs.map.vectors, &inputs.map.labels) {
                (None, None) => "neither".to_string(),
                (Some(_), None) => format!("only `{MAP_VECTORS}`"),
                _ => format!("only `{MAP_LABELS}`"),
            }
        ));
        return Ok(s);
    };
    let model = inputs.map.model.as_ref();
    if let Some(m) = model.filter(|m| m.vector_width() != vectors.width) {
        return Err(StageError::Input {
            slot: MAP_MODEL.into(),
            reason: format!(
                "node `{}` ({} on {}) makes vectors of width {}, but `{MAP_VECTORS}` node `{}` \
                 holds width {}: they are not one model's",
                m.node,
                m.strategy,
                Source::format_set(&m.sources),
                m.vector_width(),
                vectors.node,
                vectors.width
            ),
        });
    }
    let map = match map(vectors, labels) {
        Ok(map) => map,
        Err(why) => {
            s.missing(why);
            return Ok(s);
        }
    };
    let unlabelled = vectors.ids.len() - map.rows.len();
    if unlabelled > 0 {
        s.missing(format!(
            "{unlabelled} of the {} tracks of node {} have no label in node {} and are not \
             mapped.",
            vectors.ids.len(),
            vectors.node,
            labels.node
        ));
    }
    let (agreement, chance) = map.neighbour_agreement();
    let last_kl = map.embedding.kl.last().map_or(f64::NAN, |k| k.1);
    s.text(format!(
        "Each dot is one of the {} labelled tracks of {target} (node {}), placed by exact \
         t-SNE (perplexity {:.1}, started from the first two principal components of the \
         standardised vectors; final KL divergence {}) and coloured by genre; each genre's \
         name sits at its tracks' mean position. {:.0}% of the tracks have a nearest \
         neighbour of their own genre in the map (random neighbours: {:.0}%).",
        map.rows.len(),
        vectors.node,
        map.embedding.perplexity,
        fmt(last_kl),
        100.0 * agreement,
        100.0 * chance
    ));
    let topics = match model {
        Some(m) => {
            s.text(describe(m, inputs, means, target));
            topic_columns(&mut s, &map, vectors, m, inputs, items_shown)
        }
        None => {
            s.missing(format!(
                "no `{MAP_MODEL}` input (the train node of the mapped model): the model is \
                 not named and no block's topics are predicted."
            ));
            Vec::new()
        }
    };
    s.push(Block::Figure(Figure {
        name: FIGURE.into(),
        caption: format!(
            "Fig. 16 analogue: t-SNE map of {target} tracks in one multi-source \
             representation, coloured by genre; beside each genre, the strongest predicted \
             topic of each block."
        ),
        svg: figure(&map, &topics)?,
    }));
    if !topics.is_empty() {
        s.push(Block::Table(topic_table(&map, &topics)));
    }
    Ok(s)
}

/// The model, the design run it is and how it ranks on the target.
fn describe(m: &Model, inputs: &StudyInputs, means: &Means, target: &str) -> String {
    let what = format!(
        "The map's model (node {}) is {} on {} ({} blocks of 256).",
        m.node,
        m.strategy,
        Source::format_set(&m.sources),
        m.vector_width() / 512
    );
    let run = inputs.runs.iter().find(|r| {
        r.strategy == m.strategy && r.sources == m.sources && r.seed.is_some() && r.seed == m.seed
    });
    let Some(run) = run else {
        return format!("{what} It is none of the design's runs, so it is not ranked.");
    };
    let Some(score) = means.get(target, &run.id) else {
        return format!(
            "{what} It is design run {}, which has no score on {target}.",
            run.id
        );
    };
    let others: Vec<f64> = inputs
        .runs
        .iter()
        .filter(|r| r.id != run.id)
        .filter_map(|r| means.get(target, &r.id))
        .collect();
    let below = others.iter().filter(|&&v| v < score).count();
    format!(
        "{what} It is design run {}: {} {} on {target}, above {below} of the {} other runs \
         scored there.",
        run.id,
        means.metric.get(target).map_or("score", String::as_str),
        fmt(score),
        others.len()
    )
}

/// One block's topics: per genre the topic, its mean probability, and its
/// strongest items where the `topics` input has them.
pub struct TopicColumn {
    pub source: Source,
    pub per_genre: Vec<(usize, f64)>,
    pub items: Option<Vec<Vec<String>>>,
}

fn topic_columns(
    s: &mut Section,
    map: &Map,
    vectors: &Vectors,
    model: &Model,
    inputs: &StudyInputs,
    items_shown: usize,
) -> Vec<TopicColumn> {
    if model.sources.contains(&Source::SelfSupervised) {
        s.text("The self block's head tells same from different clips: it has no topics.");
    }
    model
        .heads
        .iter()
        .map(|head| {
            let per_genre = strongest(map, vectors, head);
            let topics = inputs.topics.iter().find(|t| t.label == head.source.name());
            if topics.is_none() {
                s.missing(format!(
                    "`topics` has no factorize node of {}: its topics are shown by number only.",
                    head.source
                ));
            }
            let items = topics.map(|t| {
                per_genre
                    .iter()
                    .map(|(topic, _)| {
                        let mut ranked: Vec<(u32, &str)> = t
                            .items
                            .iter()
                            .filter(|i| i.topic as usize == *topic)
                            .map(|i| (i.rank, i.item.as_str()))
                            .collect();
                        ranked.sort();
                        ranked
                            .iter()
                            .take(items_shown)
                            .map(|(_, i)| i.to_string())
                            .collect()
                    })
                    .collect()
            });
            TopicColumn {
                source: head.source,
                per_genre,
                items,
            }
        })
        .collect()
}

fn topic_name(column: &TopicColumn, genre: usize) -> String {
    format!("{}{}", column.source, column.per_genre[genre].0)
}

fn topic_table(map: &Map, columns: &[TopicColumn]) -> Table {
    let mut header = vec!["genre".to_string()];
    header.extend(columns.iter().map(|c| c.source.name().to_string()));
    Table {
        caption: "Fig. 16's topics: per genre and block, the topic with the highest mean \
                  predicted probability over the genre's tracks (in brackets), and its \
                  strongest items"
            .into(),
        header,
        rows: map
            .genres
            .iter()
            .enumerate()
            .map(|(g, genre)| {
                let mut row = vec![Cell::plain(genre)];
                row.extend(columns.iter().map(|c| {
                    let items = c
                        .items
                        .as_ref()
                        .map_or(String::new(), |i| format!(": {}", i[g].join(", ")));
                    Cell::plain(format!(
                        "{} ({:.2}){items}",
                        topic_name(c, g),
                        c.per_genre[g].1
                    ))
                }));
                row
            })
            .collect(),
    }
}

/// The legend's lines for one genre: its topics, wrapped.
fn legend_lines(columns: &[TopicColumn], genre: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for name in columns.iter().map(|c| topic_name(c, genre)) {
        match lines.last_mut() {
            Some(line) if line.len() + 1 + name.len() <= LEGEND_LINE => {
                line.push(' ');
                line.push_str(&name);
            }
            _ => lines.push(name),
        }
    }
    lines
}

fn figure(map: &Map, columns: &[TopicColumn]) -> Result<String, StageError> {
    const GENRE_ROW: i32 = 16;
    const TOPIC_ROW: i32 = 13;
    let legend: Vec<Vec<String>> = (0..map.genres.len())
        .map(|g| legend_lines(columns, g))
        .collect();
    let legend_height: i32 = legend
        .iter()
        .map(|l| GENRE_ROW + TOPIC_ROW * l.len() as i32 + 6)
        .sum();
    let height = (legend_height as u32 + 40).max(520);
    let y = &map.embedding.points;
    plot::render(FIGURE, height, |root| {
        let (left, right) = root.split_horizontally(MAP_WIDTH);
        let mut chart = ChartBuilder::on(&left).margin(12).build_cartesian_2d(
            plot::padded(y.iter().map(|p| p[0])),
            plot::padded(y.iter().map(|p| p[1])),
        )?;
        chart.draw_series(y.iter().zip(&map.genre_of).map(|(p, &g)| {
            Circle::new((p[0], p[1]), plot::DOT, plot::category_color(g).filled())
        }))?;
        for (g, genre) in map.genres.iter().enumerate() {
            let mine: Vec<&[f64; 2]> = y
                .iter()
                .zip(&map.genre_of)
                .filter(|(_, &h)| h == g)
                .map(|(p, _)| p)
                .collect();
            let k = mine.len().max(1) as f64;
            let at = (
                mine.iter().map(|p| p[0]).sum::<f64>() / k,
                mine.iter().map(|p| p[1]).sum::<f64>() / k,
            );
            chart.draw_series([Text::new(
                genre.clone(),
                at,
                ("sans-serif", 13)
                    .into_font()
                    .style(FontStyle::Bold)
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Center, VPos::Center)),
            )])?;
        }
        let mut top = 20;
        for (g, genre) in map.genres.iter().enumerate() {
            let color = plot::category_color(g);
            right.draw(&Rectangle::new([(10, top), (22, top + 12)], color.filled()))?;
            right.draw(&Text::new(
                genre.clone(),
                (28, top),
                ("sans-serif", 13).into_font().style(FontStyle::Bold),
            ))?;
            top += GENRE_ROW;
            for line in &legend[g] {
                right.draw(&Text::new(
                    line.clone(),
                    (28, top),
                    ("sans-serif", 11).into_font().color(&plot::GREY),
                ))?;
                top += TOPIC_ROW;
            }
            top += 6;
        }
        Ok(())
    })
}

//! The `factorize` and `factorize_artist` stages: label tables in, z tables
//! and model parameters out.

use std::collections::HashMap;

use super::csr::Csr;
use super::gmm::{Gmm, GmmConfig, DEFAULT_VAR_FLOOR};
use super::input::{read_artist_map, read_counts, read_scalars, Origin};
use super::output::{gmm_table, top_items_table, topic_item_table, z_table};
use super::plsa::{self, Plsa, PlsaConfig};
use super::tfidf::tfidf;
use super::topics::top_items;
use crate::api::*;

/// The sources `factorize` takes (artist has its own stage).
pub const SOURCES: &[&str] = &["tag", "taste", "lyrics", "cdr_tag", "bpm", "year"];

/// At most this many warnings go into the metadata.
const MAX_WARNINGS: usize = 20;

const SOURCE: ParamSpec = ParamSpec {
    name: "source",
    ty: ParamType::Choice(SOURCES),
    default: None,
    doc: "tag, taste, cdr_tag: pLSA; lyrics: TF-IDF then pLSA; bpm, year: GMM",
    in_key: true,
};
const K: ParamSpec = ParamSpec {
    name: "k",
    ty: ParamType::Int,
    default: Some("50"),
    doc: "number of topics (pLSA) or components (GMM)",
    in_key: true,
};
const ITERATIONS: ParamSpec = ParamSpec {
    name: "iterations",
    ty: ParamType::Int,
    default: Some("100"),
    doc: "maximum number of EM iterations",
    in_key: true,
};
const SEED: ParamSpec = ParamSpec {
    name: "seed",
    ty: ParamType::Int,
    default: Some("0"),
    doc: "seed of the random initialisation (non-negative)",
    in_key: true,
};
const TOLERANCE: ParamSpec = ParamSpec {
    name: "tolerance",
    ty: ParamType::Float,
    default: Some("0"),
    doc: "stop when the log-likelihood's relative change is below this; 0 = off",
    in_key: true,
};
const TOP_N: ParamSpec = ParamSpec {
    name: "top_n",
    ty: ParamType::Int,
    default: Some("10"),
    doc: "items listed per topic in `top_items` (pLSA sources)",
    in_key: true,
};

const LABELS_SLOT: &str = "labels";
const MAP_SLOT: &str = "artist_map";
const TAGS_SLOT: &str = "tags";

/// Factorizes one learning source's labels into z.
pub struct Factorize;

impl Stage for Factorize {
    fn name(&self) -> &'static str {
        "factorize"
    }
    fn version(&self) -> u32 {
        // 2: pLSA sums its dot products in eight lanes (last-bit changes).
        2
    }
    fn doc(&self) -> &'static str {
        "Turns one source's labels into a k-dim distribution per track (pLSA or GMM)."
    }
    fn params(&self) -> &'static [ParamSpec] {
        &[SOURCE, K, ITERATIONS, SEED, TOLERANCE, TOP_N]
    }
    fn inputs(&self) -> &'static [InputSpec] {
        &[InputSpec {
            name: LABELS_SLOT,
            many: false,
            doc: "`table`: (track_id, item, count) for tag, taste, lyrics, cdr_tag; \
                  (track_id, value) for bpm, year",
        }]
    }
    fn outputs(&self) -> &'static [OutputSpec] {
        &[
            OutputSpec {
                name: "z",
                kind: FileKind::Table,
                doc: "each track's k-dim distribution",
            },
            OutputSpec {
                name: "model",
                kind: FileKind::Table,
                doc: "the fitted model: pLSA topic-item weights, or GMM components",
            },
            OutputSpec {
                name: "top_items",
                kind: FileKind::Table,
                doc: "pLSA sources only: each topic's top items",
            },
        ]
    }
    fn run(&self, ctx: &StageContext) -> Result<Outputs, StageError> {
        let source = ctx.params.str("source")?;
        let settings = Settings::read(ctx.params)?;
        let table = ctx.input_table(LABELS_SLOT, "table")?;
        let origin = Origin {
            slot: LABELS_SLOT,
            source,
        };
        match source {
            "bpm" | "year" => {
                let labels = read_scalars(&table, origin)?;
                run_gmm(
                    source,
                    &labels.tracks,
                    &labels.values,
                    labels.left_out,
                    &settings,
                    ctx,
                )
            }
            "tag" | "taste" | "cdr_tag" | "lyrics" => {
                let labels = read_counts(&table, origin)?;
                let (matrix, method) = if source == "lyrics" {
                    (tfidf(&labels.counts), "tfidf+plsa")
                } else {
                    (labels.counts, "plsa")
                };
                let model = fit_plsa(source, &matrix, &settings, ctx)?;
                plsa_outputs(
                    source,
                    method,
                    &labels.tracks,
                    &model.theta_dk,
                    &labels.items,
                    &model,
                    &matrix,
                    &settings,
                )
                .map(|out| out.meta("tracks_left_out", labels.left_out))
            }
            other => Err(StageError::Param {
                name: "source".into(),
                reason: format!("unknown source `{other}` (one of {})", SOURCES.join(", ")),
            }),
        }
    }
}

/// The artist source: pLSA on the artist x tag matrix; each track takes its
/// artist's topics.
pub struct FactorizeArtist;

impl Stage for FactorizeArtist {
    fn name(&self) -> &'static str {
        "factorize_artist"
    }
    fn version(&self) -> u32 {
        // 2: pLSA sums its dot products in eight lanes (last-bit changes).
        2
    }
    fn doc(&self) -> &'static str {
        "pLSA on the artist x tag matrix (track-artist map times track-tag counts); \
         each track inherits its artist's distribution."
    }
    fn params(&self) -> &'static [ParamSpec] {
        &[K, ITERATIONS, SEED, TOLERANCE, TOP_N]
    }
    fn inputs(&self) -> &'static [InputSpec] {
        &[
            InputSpec {
                name: MAP_SLOT,
                many: false,
                doc: "`table`: (track_id, artist_id)",
            },
            InputSpec {
                name: TAGS_SLOT,
                many: false,
                doc: "`table`: (track_id, item, count), the track-tag counts",
            },
        ]
    }
    fn outputs(&self) -> &'static [OutputSpec] {
        &[
            OutputSpec {
                name: "z",
                kind: FileKind::Table,
                doc: "each track's k-dim distribution (its artist's)",
            },
            OutputSpec {
                name: "model",
                kind: FileKind::Table,
                doc: "the topic-tag weights",
            },
            OutputSpec {
                name: "top_items",
                kind: FileKind::Table,
                doc: "each topic's top tags",
            },
        ]
    }
    fn run(&self, ctx: &StageContext) -> Result<Outputs, StageError> {
        let source = "artist";
        let settings = Settings::read(ctx.params)?;
        let map = read_artist_map(
            &ctx.input_table(MAP_SLOT, "table")?,
            Origin {
                slot: MAP_SLOT,
                source,
            },
        )?;
        let tags_origin = Origin {
            slot: TAGS_SLOT,
            source,
        };
        let tags = read_counts(&ctx.input_table(TAGS_SLOT, "table")?, tags_origin)?;

        let artist_of_track: HashMap<&str, u32> = map
            .tracks
            .iter()
            .map(String::as_str)
            .zip(map.artist_of.iter().copied())
            .collect();
        let group_of_row: Vec<Option<u32>> = tags
            .tracks
            .iter()
            .map(|t| artist_of_track.get(t.as_str()).copied())
            .collect();
        let tagged_tracks_without_artist = group_of_row.iter().filter(|g| g.is_none()).count();
        let by_artist = tags
            .counts
            .sum_rows_by_group(&group_of_row, map.artists.len())
            .compact();
        if by_artist.matrix.n_rows == 0 {
            return Err(tags_origin.error("no artist of the map has a tagged track"));
        }
        let model = fit_plsa(source, &by_artist.matrix, &settings, ctx)?;

        // Each mapped track whose artist kept a row inherits that row.
        let mut row_of_artist = vec![None; map.artists.len()];
        for (row, &artist) in by_artist.kept_rows.iter().enumerate() {
            row_of_artist[artist] = Some(row);
        }
        let k = settings.k;
        let mut tracks = Vec::new();
        let mut z_nk = Vec::new();
        for (track, &artist) in map.tracks.iter().zip(&map.artist_of) {
            if let Some(row) = row_of_artist[artist as usize] {
                tracks.push(track.clone());
                z_nk.extend_from_slice(&model.theta_dk[row * k..(row + 1) * k]);
            }
        }
        let items: Vec<String> = by_artist
            .kept_cols
            .iter()
            .map(|&c| tags.items[c].clone())
            .collect();
        let out = plsa_outputs(
            source,
            "artist plsa",
            &tracks,
            &z_nk,
            &items,
            &model,
            &by_artist.matrix,
            &settings,
        )?;
        Ok(out
            .meta(
                "tracks_left_out",
                map.tracks.len() - tracks.len() + map.left_out,
            )
            .meta("artists_used", by_artist.matrix.n_rows)
            .meta(
                "artists_without_tags",
                map.artists.len() - by_artist.matrix.n_rows,
            )
            .meta("tagged_tracks_without_artist", tagged_tracks_without_artist))
    }
}

/// Checked numeric parameters shared by both stages.
struct Settings {
    k: usize,
    iterations: usize,
    seed: u64,
    tolerance: f64,
    top_n: usize,
}

impl Settings {
    fn read(params: &Params) -> Result<Settings, StageError> {
        let positive = |name: &str, max: i64| -> Result<usize, StageError> {
            let v = params.i64(name)?;
            if (1..=max).contains(&v) {
                Ok(v as usize)
            } else {
                Err(StageError::Param {
                    name: name.into(),
                    reason: format!("{v} is outside 1..={max}"),
                })
            }
        };
        let seed = params.i64("seed")?;
        let tolerance = params.f64("tolerance")?;
        if !(tolerance >= 0.0 && tolerance.is_finite()) {
            return Err(StageError::Param {
                name: "tolerance".into(),
                reason: format!("{tolerance} must be a finite number >= 0"),
            });
        }
        Ok(Settings {
            k: positive("k", 100_000)?,
            iterations: positive("iterations", 1_000_000)?,
            seed: u64::try_from(seed).map_err(|_| StageError::Param {
                name: "seed".into(),
                reason: format!("{seed} must be >= 0"),
            })?,
            tolerance,
            top_n: positive("top_n", 100_000)?,
        })
    }
}

fn fit_plsa(
    source: &str,
    matrix: &Csr,
    s: &Settings,
    ctx: &StageContext,
) -> Result<Plsa, StageError> {
    let config = PlsaConfig {
        k: s.k,
        iterations: s.iterations,
        seed: s.seed,
        tolerance: s.tolerance,
    };
    ctx.progress.set_total(s.iterations as u64);
    plsa::fit(matrix, &config, &mut |_, _| ctx.progress.advance(1))
        .map_err(|e| StageError::Data(format!("source {source}: pLSA: {e}")))
}

#[allow(clippy::too_many_arguments)]
fn plsa_outputs(
    source: &str,
    method: &str,
    tracks: &[String],
    z_nk: &[f64],
    items: &[String],
    model: &Plsa,
    matrix: &Csr,
    s: &Settings,
) -> Result<Outputs, StageError> {
    let top = top_items(&model.phi_wk, s.k, s.top_n);
    Ok(Outputs::default()
        .table("z", z_table(tracks, z_nk, s.k)?)
        .table("model", topic_item_table(items, &model.phi_wk, s.k)?)
        .table("top_items", top_items_table(items, &top)?)
        .meta("source", source)
        .meta("method", method)
        .meta("k", s.k)
        .meta("tracks_used", tracks.len())
        .meta("items", items.len())
        .meta("nonzeros", matrix.nnz())
        .meta(
            "log_likelihood",
            model.log_likelihood.last().copied().unwrap_or(f64::NAN),
        )
        .meta("iterations_run", model.iterations_run)
        .meta("converged", model.converged))
}

fn run_gmm(
    source: &str,
    tracks: &[String],
    values: &[f64],
    left_out: usize,
    s: &Settings,
    ctx: &StageContext,
) -> Result<Outputs, StageError> {
    let config = GmmConfig {
        k: s.k,
        iterations: s.iterations,
        seed: s.seed,
        tolerance: s.tolerance,
        var_floor: DEFAULT_VAR_FLOOR,
    };
    ctx.progress.set_total(s.iterations as u64);
    let gmm = Gmm::fit(values, &config, &mut |_, _| ctx.progress.advance(1))
        .map_err(|e| StageError::Data(format!("source {source}: GMM: {e}")))?;
    let ll = gmm.log_likelihood.last().copied().unwrap_or(f64::NAN);
    // The terminal shows a node's first warning: say what the re-seeds
    // mean for this corpus before the events themselves.
    let mut warnings = Vec::new();
    if gmm.reseeds > 0 {
        let mut distinct = values.to_vec();
        distinct.sort_by(f64::total_cmp);
        distinct.dedup();
        warnings.push(format!(
            "{} re-seeds of components that came to explain less than one value: {} \
             components are more than {} values ({} distinct) support; each was moved onto \
             the data and the fit is complete (a smaller `k` avoids them; the paper's is 50)",
            gmm.reseeds,
            s.k,
            values.len(),
            distinct.len()
        ));
    }
    warnings.extend(gmm.warnings.iter().take(MAX_WARNINGS).cloned());
    Ok(Outputs::default()
        .table("z", z_table(tracks, &gmm.posteriors(values), s.k)?)
        .table("model", gmm_table(&gmm)?)
        .meta("source", source)
        .meta("method", "gmm")
        .meta("k", s.k)
        .meta("tracks_used", tracks.len())
        .meta("tracks_left_out", left_out)
        .meta("log_likelihood", ll)
        .meta("mean_log_likelihood", ll / values.len() as f64)
        .meta("iterations_run", gmm.iterations_run)
        .meta("converged", gmm.converged)
        .meta("reseeds", gmm.reseeds)
        .meta("warnings", warnings))
}

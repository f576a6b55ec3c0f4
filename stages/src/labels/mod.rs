//! Label factorization (SPEC section 4): each learning source's raw labels
//! become z, a k-dimensional distribution per track (k = 50 by default),
//! plus the model behind it for the report and for explanations.
//!
//! # Stages
//!
//! * `factorize` (params `source`, `k`, `iterations`, `seed`, `tolerance`,
//!   `top_n`; slot `labels`): `source` picks the preprocessing:
//!   - `tag`, `taste`, `cdr_tag`: pLSA on the (track_id, item, count) table;
//!   - `lyrics`: TF-IDF (scikit-learn's defaults), then pLSA;
//!   - `bpm`, `year`: a 1-D GMM on the (track_id, value) table.
//! * `factorize_artist` (same params less `source`; slots `artist_map`:
//!   (track_id, artist_id) and `tags`: (track_id, item, count)): pLSA on the
//!   artist x tag matrix (map times track-tag counts); every mapped track
//!   inherits its artist's distribution. A separate stage because input
//!   slots are always required: `factorize` would otherwise demand a
//!   second input that only one source uses.
//!
//! # Outputs
//!
//! * `z`: (track_id Utf8, z FixedSizeList<Float32, k>), tracks sorted, rows
//!   summing to 1 (Float32: the network's dtype; the model stays f64).
//! * `model`: pLSA: (item Utf8, p FixedSizeList<Float64, k>) with p[z] =
//!   P(item | topic z); GMM: (component, weight, mean, variance), components
//!   by ascending mean, matching z's order.
//! * `top_items` (pLSA only): (topic, rank, item, weight), the paper's
//!   Table 2.
//! * metadata: source, method, k, tracks_used, tracks_left_out,
//!   log_likelihood (final; for lyrics, of the TF-IDF weights),
//!   iterations_run, converged; pLSA adds items and
//!   nonzeros, GMM adds mean_log_likelihood, reseeds and warnings, artist
//!   adds artists_used, artists_without_tags, tagged_tracks_without_artist.
//!
//! A track listed in a label table without a usable label (null or zero
//! counts, a null value or artist, an artist without tags) is left out of z
//! and counted in `tracks_left_out`; tracks absent from the table are
//! simply not there. Malformed labels are errors (see [`input`]).
//!
//! Results depend only on the inputs and the parameters: tracks and items
//! are sorted by name, the random start comes from our own seeded
//! generator, and parallel sums are grouped the same way on any number of
//! threads.

pub mod csr;
pub mod gmm;
pub mod input;
pub mod output;
pub mod plsa;
pub mod stage;
pub mod tfidf;
pub mod topics;

#[cfg(test)]
mod tests;

pub use stage::{Factorize, FactorizeArtist};

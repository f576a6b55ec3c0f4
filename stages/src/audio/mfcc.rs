//! The MFCC baseline: one 120-dimensional vector per track.
//!
//! librosa computes MFCCs of a single signal; a track here has two
//! channels. We average the two channels' **mel power** (the power a mono
//! listener of uncorrelated channels would get) and then follow
//! `librosa.feature.mfcc` exactly: `power_to_db(top_db=80)` over the track,
//! DCT-II (orthonormal) over the 128 bands, first 20 coefficients. Then
//! `librosa.feature.delta(width=9, mode='interp')` of order 1 and 2
//! (Savitzky-Golay, polyorder = order), and the mean and population std over
//! time of each of the 60 series.
//!
//! Vector layout: `[mean(mfcc) 0..20, mean(delta) 20..40, mean(delta2)
//! 40..60, std(mfcc) 60..80, std(delta) 80..100, std(delta2) 100..120]`.
//!
//! It starts from mel power, not from the stored dB mel: the stored mel is
//! floored per track over both channels, and averaging floored channels
//! would not equal flooring the average.

use std::f64::consts::PI;

use rayon::prelude::*;

use super::mel::{decibels, floor_below_max};
use super::{AudioError, MelPower};

/// MFCC coefficients kept.
pub const N_MFCC: usize = 20;
/// Frames in the Savitzky-Golay window of `librosa.feature.delta`.
pub const DELTA_WIDTH: usize = 9;
/// Dimensions of the baseline vector: 20 coefficients x (static, delta,
/// delta2) x (mean, std).
pub const MFCC_DIMS: usize = 120;

/// MFCCs of the channel-mean mel power: `mfcc: [N_MFCC][frames]`
/// (coefficient-major, as librosa returns them). In f32 like librosa, with
/// the DCT as 20 running sums per band so that it vectorises.
pub fn mfcc(power: &MelPower) -> Vec<Vec<f64>> {
    let bands = power.bands;
    // Mean over channels, then dB with the track-wide 80 dB floor.
    let scale = 1.0 / power.channels.max(1) as f32;
    let mut db = power.channel(0).to_vec();
    for c in 1..power.channels {
        db.iter_mut()
            .zip(power.channel(c))
            .for_each(|(d, p)| *d += p);
    }
    db.par_chunks_mut(1 << 16)
        .for_each(|c| c.iter_mut().for_each(|d| *d = decibels(*d * scale)));
    floor_below_max(&mut db);

    // basis[i][k]: band i's weight in coefficient k.
    let dct = dct_ii_ortho(N_MFCC, bands);
    let basis: Vec<[f32; N_MFCC]> = (0..bands)
        .map(|i| std::array::from_fn(|k| dct[k][i] as f32))
        .collect();
    let per_frame: Vec<[f32; N_MFCC]> = db
        .par_chunks(bands)
        .map(|frame| {
            let mut out = [0.0f32; N_MFCC];
            for (x, row) in frame.iter().zip(&basis) {
                out.iter_mut().zip(row).for_each(|(o, w)| *o += x * w);
            }
            out
        })
        .collect();
    (0..N_MFCC)
        .map(|k| per_frame.iter().map(|c| f64::from(c[k])).collect())
        .collect()
}

/// Rows `0..n_out` of the orthonormal DCT-II matrix of size `n`
/// (scipy.fftpack.dct(type=2, norm='ortho')).
fn dct_ii_ortho(n_out: usize, n: usize) -> Vec<Vec<f64>> {
    (0..n_out)
        .map(|k| {
            let scale = if k == 0 {
                (1.0 / n as f64).sqrt()
            } else {
                (2.0 / n as f64).sqrt()
            };
            (0..n)
                .map(|i| scale * (PI * k as f64 * (2 * i + 1) as f64 / (2 * n) as f64).cos())
                .collect()
        })
        .collect()
}

/// `librosa.feature.delta(series, width, order, mode='interp')`: the
/// `order`-th derivative of a least-squares polynomial of degree `order` over
/// a centered window of `width` frames; the first and last `width / 2`
/// frames use the polynomial fitted to the first / last `width` frames
/// (scipy savgol_filter mode 'interp'). Needs at least `width` frames.
pub fn delta(series: &[f64], width: usize, order: usize) -> Result<Vec<f64>, AudioError> {
    let n = series.len();
    if n < width {
        return Err(AudioError::TooShort {
            frames: n,
            needed: width,
            what: "MFCC deltas",
        });
    }
    let half = width / 2;
    // Coefficients for evaluating at each position of a window.
    let at: Vec<Vec<f64>> = (0..width)
        .map(|pos| savgol_coefficients(width, order, order, pos))
        .collect();
    Ok((0..n)
        .map(|t| {
            let (start, pos) = if t < half {
                (0, t)
            } else if t + half >= n {
                (n - width, t - (n - width))
            } else {
                (t - half, half)
            };
            at[pos]
                .iter()
                .zip(&series[start..start + width])
                .map(|(c, x)| c * x)
                .sum()
        })
        .collect())
}

/// Weights `c` such that `sum_j c[j] * x[j]` is the `deriv`-th derivative, at
/// window position `pos`, of the degree-`polyorder` least-squares fit to
/// `x[0..window]` (scipy `savgol_coeffs(..., pos, use='dot')`): the
/// minimum-norm solution of `A c = deriv! e_deriv` with
/// `A[i][j] = (j - pos)^i`, i.e. `c = A^T (A A^T)^-1 y`.
fn savgol_coefficients(window: usize, polyorder: usize, deriv: usize, pos: usize) -> Vec<f64> {
    let m = polyorder + 1;
    let x: Vec<f64> = (0..window).map(|j| j as f64 - pos as f64).collect();
    // Gram matrix G[i][k] = sum_j x_j^(i + k), with y appended as a column.
    let mut g: Vec<Vec<f64>> = (0..m)
        .map(|i| {
            let mut row: Vec<f64> = (0..m)
                .map(|k| x.iter().map(|v| v.powi((i + k) as i32)).sum())
                .collect();
            let factorial: f64 = (1..=deriv).map(|f| f as f64).product();
            row.push(if i == deriv { factorial } else { 0.0 });
            row
        })
        .collect();
    // Gauss-Jordan with partial pivoting; G is small and positive definite.
    for col in 0..m {
        let pivot = (col..m)
            .max_by(|&a, &b| g[a][col].abs().total_cmp(&g[b][col].abs()))
            .unwrap_or(col);
        g.swap(col, pivot);
        for row in 0..m {
            if row != col {
                let f = g[row][col] / g[col][col];
                let pivot_row = g[col].clone();
                for (a, b) in g[row].iter_mut().zip(&pivot_row) {
                    *a -= f * b;
                }
            }
        }
    }
    let z: Vec<f64> = (0..m).map(|i| g[i][m] / g[i][i]).collect();
    x.iter()
        .map(|xj| (0..m).map(|i| z[i] * xj.powi(i as i32)).sum())
        .collect()
}

/// The 120-dimensional MFCC baseline of a track (layout in the module doc)
/// from its mel power `[2, T, 128]`. Needs T >= 9 frames (about 0.1 s),
/// as librosa's delta does.
pub fn mfcc_baseline(power: &MelPower) -> Result<[f32; MFCC_DIMS], AudioError> {
    let coefficients = mfcc(power);
    let mut series: Vec<Vec<f64>> = Vec::with_capacity(3 * N_MFCC);
    series.extend(coefficients.iter().cloned());
    for order in [1, 2] {
        for c in &coefficients {
            series.push(delta(c, DELTA_WIDTH, order)?);
        }
    }
    let mut out = [0f32; MFCC_DIMS];
    for (i, s) in series.iter().enumerate() {
        let n = s.len() as f64;
        let mean = s.iter().sum::<f64>() / n;
        let var = s.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
        out[i] = mean as f32;
        out[3 * N_MFCC + i] = var.sqrt() as f32;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dct_is_orthonormal() {
        let d = dct_ii_ortho(128, 128);
        for i in 0..128 {
            for j in 0..128 {
                let dot: f64 = d[i].iter().zip(&d[j]).map(|(a, b)| a * b).sum();
                let expect = if i == j { 1.0 } else { 0.0 };
                assert!((dot - expect).abs() < 1e-12, "{i} {j} {dot}");
            }
        }
    }

    #[test]
    fn savgol_matches_closed_forms() {
        // Centered first derivative: k / 60 for k = -4..=4.
        let c = savgol_coefficients(9, 1, 1, 4);
        for (j, cj) in c.iter().enumerate() {
            assert!((cj - (j as f64 - 4.0) / 60.0).abs() < 1e-14);
        }
        // Centered second derivative: 2 (k^2 - 20/3) / 308.
        let c = savgol_coefficients(9, 2, 2, 4);
        for (j, cj) in c.iter().enumerate() {
            let k = j as f64 - 4.0;
            assert!((cj - 2.0 * (k * k - 20.0 / 3.0) / 308.0).abs() < 1e-14);
        }
    }

    #[test]
    fn deltas_of_polynomials_are_exact_up_to_the_edges() {
        let ramp: Vec<f64> = (0..30).map(|t| 3.0 * t as f64 - 7.0).collect();
        assert!(delta(&ramp, 9, 1)
            .unwrap()
            .iter()
            .all(|d| (d - 3.0).abs() < 1e-10));
        let parabola: Vec<f64> = (0..30).map(|t| 0.5 * (t * t) as f64 + t as f64).collect();
        assert!(delta(&parabola, 9, 2)
            .unwrap()
            .iter()
            .all(|d| (d - 1.0).abs() < 1e-9));
        // A step: first delta is non-zero only near the step.
        let step: Vec<f64> = (0..30).map(|t| if t < 15 { 0.0 } else { 1.0 }).collect();
        let d = delta(&step, 9, 1).unwrap();
        assert!(d[15] > 0.1 && d[0].abs() < 1e-12 && d[29].abs() < 1e-12);
    }

    #[test]
    fn too_few_frames_for_deltas_is_an_error() {
        assert!(matches!(
            delta(&[1.0; 8], 9, 1),
            Err(AudioError::TooShort {
                frames: 8,
                needed: 9,
                ..
            })
        ));
        let flat = delta(&[1.0; 9], 9, 2).unwrap();
        assert!(flat.len() == 9 && flat.iter().all(|d| d.abs() < 1e-12));
    }
}

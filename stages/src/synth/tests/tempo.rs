//! A plain tempo estimator for the tests: an energy-difference onset
//! envelope and its autocorrelation, without any tempo prior, so finding
//! the labelled tempo means the beat is in the audio.
//!
//! A steady beat makes every multiple of its period (two beats, a bar) an
//! autocorrelation peak too, often a slightly higher one when beats
//! alternate (kick, snare). Like a listener tapping along, the estimator
//! takes the shortest period whose peak is at least `SHARE` of the
//! strongest; a half-beat subdivision rarely reaches that.

const HOP: usize = 64;
const WINDOW: usize = 256;
/// log(1 + COMPRESS * mean energy): compresses dynamics like hearing does.
const COMPRESS: f64 = 1e4;
const SHARE: f64 = 0.8;

/// Half-wave-rectified differences of log frame energy in two bands: the
/// signal, and its first difference (a high-pass that favours attacks).
pub fn onset_envelope(mono: &[f32]) -> Vec<f64> {
    let high: Vec<f32> = std::iter::once(0.0)
        .chain(mono.windows(2).map(|w| w[1] - w[0]))
        .collect();
    let frames = mono.len().saturating_sub(WINDOW) / HOP;
    let level = |signal: &[f32], f: usize| {
        let e: f64 = signal[f * HOP..f * HOP + WINDOW]
            .iter()
            .map(|&v| f64::from(v) * f64::from(v))
            .sum::<f64>()
            / WINDOW as f64;
        (1.0 + COMPRESS * e).ln()
    };
    let full: Vec<f64> = (0..frames).map(|f| level(mono, f)).collect();
    let highs: Vec<f64> = (0..frames).map(|f| level(&high, f)).collect();
    (1..frames)
        .map(|f| (full[f] - full[f - 1]).max(0.0) + (highs[f] - highs[f - 1]).max(0.0))
        .collect()
}

/// The tempo in BPM (searched over 40..260), refined on the
/// autocorrelation peak at the largest multiple of the period that fits in
/// half the clip (parabolic interpolation), for sub-percent precision.
pub fn estimate_bpm(mono: &[f32], sample_rate: u32) -> f64 {
    let env = onset_envelope(mono);
    let fps = f64::from(sample_rate) / HOP as f64;
    let mean = env.iter().sum::<f64>() / env.len().max(1) as f64;
    let centred: Vec<f64> = env.iter().map(|v| v - mean).collect();
    let acf = |lag: usize| -> f64 {
        centred
            .iter()
            .zip(&centred[lag.min(centred.len())..])
            .map(|(a, b)| a * b)
            .sum()
    };
    let min_lag = (60.0 * fps / 260.0).floor() as usize;
    let max_lag = ((60.0 * fps / 40.0).ceil() as usize).min(centred.len() / 2);
    let values: Vec<f64> = (0..=max_lag + 1).map(acf).collect();
    let top = (min_lag..=max_lag)
        .map(|l| values[l])
        .fold(f64::MIN, f64::max);
    let period = (min_lag..=max_lag)
        .find(|&l| {
            values[l] >= SHARE * top && values[l] >= values[l - 1] && values[l] >= values[l + 1]
        })
        .unwrap_or(min_lag);
    let multiple = ((centred.len() / 2) / period).clamp(1, 8);
    let around = period * multiple;
    let peak = (around - 2..=around + 2)
        .max_by(|&a, &b| acf(a).total_cmp(&acf(b)))
        .unwrap_or(around);
    let (y0, y1, y2) = (acf(peak - 1), acf(peak), acf(peak + 1));
    let curvature = y0 - 2.0 * y1 + y2;
    let offset = if curvature.abs() > 1e-12 {
        (0.5 * (y0 - y2) / curvature).clamp(-0.5, 0.5)
    } else {
        0.0
    };
    60.0 * fps * multiple as f64 / (peak as f64 + offset)
}

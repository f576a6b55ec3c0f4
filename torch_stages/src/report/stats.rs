//! The few statistics the report computes itself: means, Pearson's r and a
//! least-squares line with its confidence band.

/// The arithmetic mean; None for no values.
pub fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// Pearson's correlation of paired values, skipping pairs with a
/// non-finite member; None with fewer than 3 pairs or a constant side
/// (r is undefined there, and with 2 pairs it is always +-1).
pub fn pearson(pairs: &[(f64, f64)]) -> Option<f64> {
    let kept: Vec<(f64, f64)> = pairs
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    if kept.len() < 3 {
        return None;
    }
    let n = kept.len() as f64;
    let mx = kept.iter().map(|p| p.0).sum::<f64>() / n;
    let my = kept.iter().map(|p| p.1).sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in &kept {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx) * (x - mx);
        syy += (y - my) * (y - my);
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

/// A number for a table cell: three decimals, or "NA".
pub fn fmt(value: f64) -> String {
    if value.is_finite() {
        format!("{value:.3}")
    } else {
        "NA".into()
    }
}

/// A least-squares line through points, with what its 95% confidence band
/// needs (the band of the fitted mean, as the paper's Fig. 13 draws).
#[derive(Debug, Clone, Copy)]
pub struct LineFit {
    pub intercept: f64,
    pub slope: f64,
    points: usize,
    mean_x: f64,
    sxx: f64,
    /// Residual standard deviation (n - 2 degrees of freedom).
    residual_sd: f64,
}

impl LineFit {
    /// None with fewer than two distinct x (no slope to fit).
    pub fn of(points: &[(f64, f64)]) -> Option<LineFit> {
        let n = points.len() as f64;
        let mean_x = mean(&points.iter().map(|p| p.0).collect::<Vec<_>>())?;
        let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
        let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
        if sxx <= 1e-12 {
            return None;
        }
        let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
        let slope = sxy / sxx;
        let intercept = mean_y - slope * mean_x;
        let rss: f64 = points
            .iter()
            .map(|p| (p.1 - intercept - slope * p.0).powi(2))
            .sum();
        let residual_sd = if points.len() > 2 {
            (rss / (n - 2.0)).sqrt()
        } else {
            f64::NAN
        };
        Some(LineFit {
            intercept,
            slope,
            points: points.len(),
            mean_x,
            sxx,
            residual_sd,
        })
    }

    pub fn at(&self, x: f64) -> f64 {
        self.intercept + self.slope * x
    }

    /// Half the width of the 95% interval of the fitted mean at `x`;
    /// None with fewer than three points (no residual left to estimate).
    pub fn half_width(&self, x: f64) -> Option<f64> {
        (self.points > 2).then(|| {
            let n = self.points as f64;
            t975(self.points - 2)
                * self.residual_sd
                * (1.0 / n + (x - self.mean_x).powi(2) / self.sxx).sqrt()
        })
    }
}

/// Student's t 0.975 quantile with `df` degrees of freedom: exact for 1
/// and 2, else the Cornish-Fisher expansion about the normal quantile
/// (Abramowitz & Stegun 26.7.5; against scipy: 0.004 low at df = 3, within
/// 1e-5 from df = 10), which is all a plotted band needs.
pub fn t975(df: usize) -> f64 {
    const Z: f64 = 1.959_963_984_540_054;
    match df {
        0 => f64::NAN,
        1 => (std::f64::consts::PI * 0.475).tan(),
        2 => 0.95 / (2.0 * 0.975 * 0.025f64).sqrt(),
        _ => {
            let v = df as f64;
            let z = |k: i32| Z.powi(k);
            let g1 = (z(3) + Z) / 4.0;
            let g2 = (5.0 * z(5) + 16.0 * z(3) + 3.0 * Z) / 96.0;
            let g3 = (3.0 * z(7) + 19.0 * z(5) + 17.0 * z(3) - 15.0 * Z) / 384.0;
            let g4 =
                (79.0 * z(9) + 776.0 * z(7) + 1482.0 * z(5) - 1920.0 * z(3) - 945.0 * Z) / 92160.0;
            Z + g1 / v + g2 / v.powi(2) + g3 / v.powi(3) + g4 / v.powi(4)
        }
    }
}

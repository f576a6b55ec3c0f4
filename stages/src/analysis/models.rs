//! The two models of SPEC 7 as designs for the fitter, with the random
//! effects' covariance a choice ([`Covariance`]): independent variances as
//! in the paper's equations (Sect. 5.1: u_0rd ~ N(0, s2_0r), u_1rd ~ N(0,
//! s2_1r); u_1d, u_2d, u_3d each N(0, s2_k)), lme4's `||`, or unstructured
//! (correlated), lme4's `|`. In lme4 (`|` below; `||` when independent):
//!
//! Model 1 (`y* ~ 0 + i_r + s_r + (0 + i_SSR | dataset) + (0 + i_r + s_r |
//! dataset)` for each multi-source r, with i_r the indicator of strategy r
//! and s_r = i_r n*): a fixed intercept b0[r] per strategy, a fixed slope
//! b1[r] per multi-source strategy, and per strategy an (intercept, slope)
//! random effect per dataset with its own 2 x 2 covariance. The term's
//! columns are zero outside its strategy, so this is exactly u_rd ~ N(0,
//! Sigma_r). SS-R's n* is always 0: its slope (fixed and random) is not
//! estimable and is left out.
//!
//! Model 2 (`y* ~ 1 + r* * n* + (0 + r* + n* + r*:n* | dataset)`): b0, b10,
//! b20, b30 fixed, and random dataset slopes of r*, n* and r* n* with a
//! 3 x 3 covariance.
//!
//! A design is built from rows (group, observation): the fit uses each
//! observation's dataset, the case bootstrap the position of its dataset's
//! draw, so that a dataset drawn twice counts as two datasets.

use super::mixed::{Covariance, Model, RandomTerm};
use super::scores::Observation;
use crate::api::StageError;
use crate::study::Strategy;

/// One modelled observation and the level of its dataset grouping.
pub type Row<'a> = (usize, &'a Observation);

/// Which model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Model1,
    Model2,
}

impl Which {
    pub fn name(self) -> &'static str {
        match self {
            Which::Model1 => "model1",
            Which::Model2 => "model2",
        }
    }

    /// The design and the response y* of `rows`, `levels` dataset groups,
    /// every random term with the `covariance` structure.
    pub fn build(
        self,
        rows: &[Row],
        levels: usize,
        covariance: Covariance,
    ) -> Result<(Model, Vec<f64>), StageError> {
        let y = rows.iter().map(|(_, o)| o.y_star).collect();
        let model = match self {
            Which::Model1 => model1(rows, levels, covariance),
            Which::Model2 => model2(rows, levels, covariance),
        }
        .map_err(|e| StageError::Data(format!("{}: {e}", self.name())))?;
        Ok((model, y))
    }
}

/// Model 1's term names: b0[strategy], b1[strategy].
pub fn intercept_name(s: Strategy) -> String {
    format!("b0[{}]", s.name())
}

pub fn slope_name(s: Strategy) -> String {
    format!("b1[{}]", s.name())
}

/// The strategies present in `rows`, in the canonical order.
fn strategies(rows: &[Row]) -> Vec<Strategy> {
    Strategy::ALL
        .into_iter()
        .filter(|s| rows.iter().any(|(_, o)| o.strategy == *s))
        .collect()
}

fn model1(rows: &[Row], levels: usize, covariance: Covariance) -> Result<Model, StageError> {
    let present = strategies(rows);
    let sloped: Vec<Strategy> = present
        .iter()
        .copied()
        .filter(|s| *s != Strategy::SsR)
        .collect();
    let mut names: Vec<String> = present.iter().map(|s| intercept_name(*s)).collect();
    names.extend(sloped.iter().map(|s| slope_name(*s)));
    let p = names.len();
    let mut x = vec![0.0; rows.len() * p];
    for (i, (_, o)) in rows.iter().enumerate() {
        let row = &mut x[i * p..(i + 1) * p];
        if let Some(k) = present.iter().position(|s| *s == o.strategy) {
            row[k] = 1.0;
        }
        if let Some(k) = sloped.iter().position(|s| *s == o.strategy) {
            row[present.len() + k] = o.n_star();
        }
    }
    let terms = present
        .iter()
        .map(|&s| {
            let columns: Vec<String> = if s == Strategy::SsR {
                vec!["intercept".into()]
            } else {
                vec!["intercept".into(), "n*".into()]
            };
            let q = columns.len();
            let mut z = vec![0.0; rows.len() * q];
            for (i, (_, o)) in rows.iter().enumerate() {
                if o.strategy == s {
                    z[i * q] = 1.0;
                    if q == 2 {
                        z[i * q + 1] = o.n_star();
                    }
                }
            }
            RandomTerm {
                name: format!("{} | dataset", s.name()),
                columns,
                covariance,
                n_levels: levels,
                level: rows.iter().map(|(g, _)| *g).collect(),
                z,
            }
        })
        .collect();
    Model::new(names, x, terms)
}

/// Model 2's fixed effects, in order.
pub const MODEL2_TERMS: [&str; 4] = ["b0", "b10", "b20", "b30"];

fn model2(rows: &[Row], levels: usize, covariance: Covariance) -> Result<Model, StageError> {
    let mut x = Vec::with_capacity(rows.len() * 4);
    let mut z = Vec::with_capacity(rows.len() * 3);
    for (_, o) in rows {
        let (r, n) = (o.r_star(), o.n_star());
        x.extend([1.0, r, n, r * n]);
        z.extend([r, n, r * n]);
    }
    let term = RandomTerm {
        name: "dataset".into(),
        columns: vec!["r*".into(), "n*".into(), "r*:n*".into()],
        covariance,
        n_levels: levels,
        level: rows.iter().map(|(g, _)| *g).collect(),
        z,
    };
    Model::new(
        MODEL2_TERMS.iter().map(|s| s.to_string()).collect(),
        x,
        vec![term],
    )
}

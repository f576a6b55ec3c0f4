//! Linear mixed models fitted by REML, as lme4 does it (Bates, Maechler,
//! Bolker and Walker 2015, "Fitting linear mixed-effects models using lme4",
//! J. Stat. Softw. 67(1), section 3):
//!
//! y = X beta + Z Lambda u + e,  u ~ N(0, sigma^2 I),  e ~ N(0, sigma^2 I),
//!
//! where Lambda is block diagonal: one q x q factor Lambda_k per random
//! term (covariance sigma^2 Lambda_k Lambda_k'), repeated for every level
//! of the term's grouping factor. The factor is lower-triangular for an
//! unstructured covariance (lme4's `(x | g)`) and diagonal for independent
//! variances (lme4's `(x || g)`, which splits the term into one term per
//! column: the same theta, in the same order). For a given theta (the
//! factors' free entries) beta and sigma^2 have closed forms, so the REML
//! criterion is minimised over theta alone.
//!
//! Random effects that never share an observation are independent given
//! theta: the fitter splits them once into such blocks (union-find over
//! the (term, level) pieces), so an evaluation factorises small dense
//! blocks instead of one sparse matrix. For the study's models these are
//! 2 x 2 blocks per (strategy, dataset) in Model 1, 3 x 3 per dataset in
//! Model 2, and one 16 x 16 block for the crossed source factors.
//!
//! theta is optimised unconstrained by argmin's Nelder-Mead: the criterion
//! depends on Lambda_k only through Lambda_k Lambda_k', so a factor with a
//! negative diagonal is as good as the one with that column's sign
//! flipped, which the fit reports (lme4's canonical form, diagonal >= 0).
//!
//! Fixed-effect columns that are (numerically) linear combinations of the
//! columns before them are dropped with a message, as lme4 does by default.

use std::cell::{Cell, RefCell};

use argmin::core::{CostFunction, Executor, State, TerminationReason};
use argmin::solver::neldermead::NelderMead;
use nalgebra::{Cholesky, DMatrix, DVector, DVectorView};

use super::normal::Normal;
use crate::api::StageError;

/// lme4's `isSingular` tolerance on the factors' diagonal entries.
pub const SINGULAR_TOL: f64 = 1e-4;

/// A residual variance below this fraction of the mean square of y is an
/// exact fit.
const EXACT_FIT_TOL: f64 = 1e-10;

/// lme4's rank tolerance (`chkRank.drop.cols`, tol = 1e-7): a column whose
/// residual on the columns before it has less than this fraction of its
/// norm is dropped.
const RANK_TOL: f64 = 1e-7;

/// How the REML criterion is minimised: argmin's Nelder-Mead, restarted
/// from the best point with a fresh simplex until a restart no longer
/// improves the criterion (a stalled simplex is the method's known failure;
/// lme4 checks its optimum for the same reason).
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Offset of the initial simplex's vertices along each axis.
    pub step: f64,
    /// argmin's stopping test: the sample sd of the vertices' values; also
    /// the least improvement that earns another restart.
    pub f_tol: f64,
    /// Iterations of one simplex search before it gives up.
    pub max_iterations: u64,
    /// Restarts after the first search.
    pub max_restarts: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            step: 0.5,
            f_tol: 1e-11,
            max_iterations: 20_000,
            max_restarts: 3,
        }
    }
}

/// How the q coefficients of a random term covary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Covariance {
    /// Independent variances, one per column (lme4's `(x || g)`): Lambda_k
    /// diagonal, q entries of theta.
    Independent,
    /// Any q x q covariance (lme4's `(x | g)`): Lambda_k lower-triangular,
    /// q (q + 1) / 2 entries of theta.
    Unstructured,
}

impl Covariance {
    pub const NAMES: [&'static str; 2] = ["independent", "unstructured"];

    pub fn name(self) -> &'static str {
        match self {
            Covariance::Independent => Self::NAMES[0],
            Covariance::Unstructured => Self::NAMES[1],
        }
    }

    pub fn parse(name: &str) -> Option<Covariance> {
        [Covariance::Independent, Covariance::Unstructured]
            .into_iter()
            .find(|c| c.name() == name)
    }

    /// The number of free entries of a q x q factor.
    fn theta_len(self, q: usize) -> usize {
        match self {
            Covariance::Independent => q,
            Covariance::Unstructured => q * (q + 1) / 2,
        }
    }
}

/// One random term: q columns whose coefficients vary over the levels of a
/// grouping factor, with a q x q covariance of the given structure.
#[derive(Debug, Clone)]
pub struct RandomTerm {
    pub name: String,
    pub columns: Vec<String>,
    pub covariance: Covariance,
    pub n_levels: usize,
    /// The level of each observation, in 0..n_levels.
    pub level: Vec<usize>,
    /// The term's columns per observation: [n, q].
    pub z: Vec<f64>,
}

impl RandomTerm {
    pub fn q(&self) -> usize {
        self.columns.len()
    }
}

/// A term's shape, kept after the model is built.
#[derive(Debug, Clone)]
pub struct TermShape {
    pub name: String,
    pub columns: Vec<String>,
    pub covariance: Covariance,
    /// Where the term's free entries (column-major, lme4's order) start in
    /// theta.
    theta_offset: usize,
}

impl TermShape {
    pub fn q(&self) -> usize {
        self.columns.len()
    }

    /// Where column `col` of the factor keeps its free entries in theta,
    /// the diagonal first (rows col..q unstructured, the diagonal only
    /// when independent).
    fn column_entries(&self, col: usize) -> std::ops::Range<usize> {
        let q = self.q();
        match self.covariance {
            Covariance::Independent => {
                let at = self.theta_offset + col;
                at..at + 1
            }
            Covariance::Unstructured => {
                // Column k holds rows k..q.
                let at = self.theta_offset + (0..col).map(|k| q - k).sum::<usize>();
                at..at + q - col
            }
        }
    }
}

/// One level of one term inside a block.
#[derive(Debug, Clone, Copy)]
struct Piece {
    term: usize,
    /// First index of the piece's q random effects inside its block.
    start: usize,
}

/// Random effects coupled through shared observations, with the
/// cross-products that do not involve y.
#[derive(Debug, Clone)]
struct Block {
    pieces: Vec<Piece>,
    m: usize,
    /// Where the block's entries start in a [`Response`]'s Z'y.
    offset: usize,
    /// Z'Z: [m, m].
    ztz: DMatrix<f64>,
    /// The columns of X that meet the block's random effects (Z'X is
    /// often sparse: in Model 1 a block meets only its strategy's two).
    cols: Vec<usize>,
    /// Z'X restricted to `cols`: [m, cols.len()].
    ztx: DMatrix<f64>,
}

/// A model's design: X, the random terms, and what the criterion needs.
#[derive(Debug, Clone)]
pub struct Model {
    n: usize,
    p: usize,
    fixed_names: Vec<String>,
    /// The columns dropped as not estimable, in their original order.
    dropped: Vec<String>,
    /// [n, p], the estimable columns only.
    x: Vec<f64>,
    terms: Vec<TermShape>,
    theta_len: usize,
    blocks: Vec<Block>,
    /// Per observation: its block (usize::MAX: no random effect), and the
    /// range of its (index in block, value) entries.
    obs_block: Vec<usize>,
    obs_entries: Vec<usize>,
    entries: Vec<(usize, f64)>,
    /// X'X: [p, p].
    xtx: DMatrix<f64>,
}

/// The cross-products that involve y.
#[derive(Debug, Clone)]
pub struct Response {
    zty: Vec<f64>,
    xty: DVector<f64>,
    yty: f64,
}

/// A REML fit.
#[derive(Debug, Clone)]
pub struct Fit {
    pub fixed: Vec<f64>,
    /// Canonical (every factor's diagonal >= 0).
    pub theta: Vec<f64>,
    pub residual_variance: f64,
    pub reml_log_likelihood: f64,
    /// Per term, the q x q covariance sigma^2 Lambda Lambda', row-major.
    pub covariances: Vec<Vec<f64>>,
    /// Why the fit is singular (a variance at ~0 or a correlation at +-1),
    /// as lme4's `isSingular` would say it; None if it is not.
    pub singular: Option<String>,
    /// What the caller must be told (a dropped fixed-effect column).
    pub warnings: Vec<String>,
    pub evaluations: usize,
    pub converged: bool,
}

impl Model {
    /// Checks the shapes, drops the columns of X that are not estimable
    /// (see [`Model::dropped`]), then precomputes.
    pub fn new(
        fixed_names: Vec<String>,
        x: Vec<f64>,
        terms: Vec<RandomTerm>,
    ) -> Result<Model, StageError> {
        let bad = |m: String| StageError::Data(format!("mixed model: {m}"));
        let n = x.len().checked_div(fixed_names.len()).unwrap_or(0);
        if fixed_names.is_empty() || n * fixed_names.len() != x.len() {
            return Err(bad(format!(
                "X has {} values for {} columns",
                x.len(),
                fixed_names.len()
            )));
        }
        let full = DMatrix::from_row_slice(n, fixed_names.len(), &x);
        let kept = independent_columns(&full);
        let dropped: Vec<String> = (0..fixed_names.len())
            .filter(|j| !kept.contains(j))
            .map(|j| fixed_names[j].clone())
            .collect();
        let (fixed_names, x) = if dropped.is_empty() {
            (fixed_names, x)
        } else {
            // Row-major [n, kept] is the column-major transpose.
            let x = full.select_columns(&kept).transpose().as_slice().to_vec();
            (kept.iter().map(|&j| fixed_names[j].clone()).collect(), x)
        };
        let p = fixed_names.len();
        if p == 0 {
            return Err(bad(
                "no fixed effect is estimable (every column of X is zero)".into(),
            ));
        }
        if n <= p {
            return Err(bad(format!(
                "{n} observations cannot estimate {p} fixed effects and a residual variance"
            )));
        }
        let xm = DMatrix::from_row_slice(n, p, &x);
        let xtx = xm.tr_mul(&xm);

        let mut shapes = Vec::with_capacity(terms.len());
        let mut piece_base = Vec::with_capacity(terms.len());
        let (mut theta_len, mut n_pieces) = (0, 0);
        for term in &terms {
            let q = term.q();
            if q == 0 || term.level.len() != n || term.z.len() != n * q {
                return Err(bad(format!(
                    "random term `{}`: {} levels and {} values for {n} observations and {q} columns",
                    term.name,
                    term.level.len(),
                    term.z.len()
                )));
            }
            if let Some(l) = term.level.iter().find(|&&l| l >= term.n_levels) {
                return Err(bad(format!(
                    "random term `{}`: level {l} of {}",
                    term.name, term.n_levels
                )));
            }
            shapes.push(TermShape {
                name: term.name.clone(),
                columns: term.columns.clone(),
                covariance: term.covariance,
                theta_offset: theta_len,
            });
            theta_len += term.covariance.theta_len(q);
            piece_base.push(n_pieces);
            n_pieces += term.n_levels;
        }

        let layout = Layout::new(&terms, &piece_base, n_pieces, &x, p);
        Ok(Model {
            n,
            p,
            fixed_names,
            dropped,
            x,
            terms: shapes,
            theta_len,
            blocks: layout.blocks,
            obs_block: layout.obs_block,
            obs_entries: layout.obs_entries,
            entries: layout.entries,
            xtx,
        })
    }

    pub fn n(&self) -> usize {
        self.n
    }

    /// The estimable fixed effects, in order: the fit's `fixed`.
    pub fn fixed_names(&self) -> &[String] {
        &self.fixed_names
    }

    /// The fixed effects dropped because their columns are linear
    /// combinations of the columns before them.
    pub fn dropped(&self) -> &[String] {
        &self.dropped
    }

    /// lme4's message for the dropped columns, naming them.
    pub fn rank_warning(&self) -> Option<String> {
        let k = self.dropped.len();
        (k > 0).then(|| {
            let names: Vec<String> = self.dropped.iter().map(|d| format!("`{d}`")).collect();
            format!(
                "fixed-effect model matrix is rank deficient so dropping {k} {}: {} \
                 (each a linear combination of the columns before it)",
                if k == 1 {
                    "column / coefficient"
                } else {
                    "columns / coefficients"
                },
                names.join(", ")
            )
        })
    }

    pub fn terms(&self) -> &[TermShape] {
        &self.terms
    }

    pub fn theta_len(&self) -> usize {
        self.theta_len
    }

    /// lme4's start: every factor the identity.
    pub fn initial_theta(&self) -> Vec<f64> {
        let mut theta = vec![0.0; self.theta_len];
        for term in &self.terms {
            for col in 0..term.q() {
                theta[term.column_entries(col).start] = 1.0;
            }
        }
        theta
    }

    /// The cross-products of a response vector with the design.
    pub fn response(&self, y: &[f64]) -> Result<Response, StageError> {
        if y.len() != self.n {
            return Err(StageError::Data(format!(
                "mixed model: {} responses for {} observations",
                y.len(),
                self.n
            )));
        }
        let p = self.p;
        let mut zty = vec![0.0; self.blocks.iter().map(|b| b.m).sum()];
        let mut xty = DVector::zeros(p);
        let mut yty = 0.0;
        for (i, &yi) in y.iter().enumerate() {
            yty += yi * yi;
            for (t, xv) in xty.iter_mut().zip(&self.x[i * p..(i + 1) * p]) {
                *t += xv * yi;
            }
            if let Some(block) = self.blocks.get(self.obs_block[i]) {
                for &(a, v) in &self.entries[self.obs_entries[i]..self.obs_entries[i + 1]] {
                    zty[block.offset + a] += v * yi;
                }
            }
        }
        Ok(Response { zty, xty, yty })
    }

    /// The REML criterion (-2 log restricted likelihood) at theta.
    pub fn reml_deviance(&self, theta: &[f64], response: &Response) -> f64 {
        let mut ws = Workspace::new(self);
        self.profile(theta, response, &mut ws)
    }

    /// Fits by REML from `start` (lme4's identity start when None).
    pub fn fit(
        &self,
        response: &Response,
        start: Option<&[f64]>,
        config: &Config,
    ) -> Result<Fit, StageError> {
        let initial = self.initial_theta();
        let start = start.unwrap_or(&initial);
        if start.len() != self.theta_len {
            return Err(StageError::Data(format!(
                "mixed model: {} starting values for {} variance parameters",
                start.len(),
                self.theta_len
            )));
        }
        let ws = RefCell::new(Workspace::new(self));
        let evaluations = Cell::new(0);
        let min = minimize(
            Criterion {
                model: self,
                response,
                ws: &ws,
                evaluations: &evaluations,
            },
            start,
            config,
        )?;
        let mut ws = ws.into_inner();
        let deviance = self.profile(&min.x, response, &mut ws);
        if !deviance.is_finite() {
            return Err(StageError::Data(
                "mixed model: the REML criterion is not finite at any point tried \
                 (a perfect fit, or a degenerate response)"
                    .into(),
            ));
        }
        let fixed = ws.fixed_effects();
        let residual_variance = ws.r2 / (self.n - self.p) as f64;
        // An exact fit sends theta to infinity and r^2 to rounding noise.
        if residual_variance <= EXACT_FIT_TOL * response.yty / self.n as f64 {
            return Err(StageError::Data(format!(
                "mixed model: the model fits the scores exactly (residual variance {residual_variance:.3e}); \
                 its variance components are undefined"
            )));
        }
        let theta = self.canonical(&min.x);
        let covariances = self
            .terms
            .iter()
            .map(|term| {
                let q = term.q();
                let lam = self.factor(term, &theta);
                let cov = &lam * lam.transpose() * residual_variance;
                (0..q)
                    .flat_map(|i| (0..q).map(move |j| (i, j)))
                    .map(|ij| cov[ij])
                    .collect()
            })
            .collect::<Vec<Vec<f64>>>();
        Ok(Fit {
            fixed,
            singular: self.singularity(&theta, &covariances),
            theta,
            residual_variance,
            reml_log_likelihood: -deviance / 2.0,
            covariances,
            warnings: self.rank_warning().into_iter().collect(),
            evaluations: min.evaluations,
            converged: min.converged,
        })
    }

    /// A response drawn from the fitted model: X beta + Z b + e with
    /// b ~ N(0, the fitted covariances) and e ~ N(0, sigma^2), as lme4's
    /// `simulate` (and so `bootMer`'s parametric bootstrap) draws it.
    pub fn simulate(&self, fit: &Fit, normal: &mut Normal) -> Vec<f64> {
        let p = self.p;
        let sigma = fit.residual_variance.sqrt();
        let factors: Vec<DMatrix<f64>> = self
            .terms
            .iter()
            .map(|term| self.factor(term, &fit.theta))
            .collect();
        let mut b = vec![0.0; self.blocks.iter().map(|b| b.m).sum()];
        for block in &self.blocks {
            for piece in &block.pieces {
                let lam = &factors[piece.term];
                let w = DVector::from_fn(lam.nrows(), |_, _| normal.sample());
                let at = block.offset + piece.start;
                b[at..at + w.len()].copy_from_slice((lam * w * sigma).as_slice());
            }
        }
        (0..self.n)
            .map(|i| {
                let mean: f64 = self.x[i * p..(i + 1) * p]
                    .iter()
                    .zip(&fit.fixed)
                    .map(|(x, beta)| x * beta)
                    .sum();
                let random: f64 = match self.blocks.get(self.obs_block[i]) {
                    Some(block) => self.entries[self.obs_entries[i]..self.obs_entries[i + 1]]
                        .iter()
                        .map(|&(a, v)| v * b[block.offset + a])
                        .sum(),
                    None => 0.0,
                };
                mean + random + sigma * normal.sample()
            })
            .collect()
    }

    /// A term's factor Lambda_k as a dense lower-triangular [q, q].
    fn factor(&self, term: &TermShape, theta: &[f64]) -> DMatrix<f64> {
        let mut lam = DMatrix::zeros(term.q(), term.q());
        factor_into(term, theta, &mut lam);
        lam
    }

    /// Flips the sign of every factor column with a negative diagonal.
    fn canonical(&self, theta: &[f64]) -> Vec<f64> {
        let mut out = theta.to_vec();
        for term in &self.terms {
            for col in 0..term.q() {
                let entries = term.column_entries(col);
                if out[entries.start] < 0.0 {
                    out[entries].iter_mut().for_each(|v| *v = -*v);
                }
            }
        }
        out
    }

    fn singularity(&self, theta: &[f64], covariances: &[Vec<f64>]) -> Option<String> {
        let mut reasons = Vec::new();
        for (term, cov) in self.terms.iter().zip(covariances) {
            let q = term.q();
            let lam = self.factor(term, theta);
            for col in 0..q {
                if lam[(col, col)] >= SINGULAR_TOL {
                    continue;
                }
                if lam.row(col).norm() < SINGULAR_TOL {
                    reasons.push(format!(
                        "term `{}`: variance of `{}` is ~0 ({:.3e})",
                        term.name,
                        term.columns[col],
                        cov[col * q + col]
                    ));
                } else {
                    let correlations: Vec<String> = (0..col)
                        .map(|k| {
                            let r = cov[col * q + k] / (cov[col * q + col] * cov[k * q + k]).sqrt();
                            format!("{} {r:+.4}", term.columns[k])
                        })
                        .collect();
                    reasons.push(format!(
                        "term `{}`: `{}` is perfectly correlated with the term's other columns \
                         (correlation with {})",
                        term.name,
                        term.columns[col],
                        correlations.join(", ")
                    ));
                }
            }
        }
        (!reasons.is_empty()).then(|| reasons.join("; "))
    }

    /// The profiled REML criterion at theta (+infinity where it is not
    /// defined); leaves R_X, c_beta and r^2 in the workspace.
    fn profile(&self, theta: &[f64], response: &Response, ws: &mut Workspace) -> f64 {
        let Workspace {
            factors,
            blocks,
            s,
            t,
            c_beta,
            r2,
        } = ws;
        for (term, lam) in self.terms.iter().zip(factors.iter_mut()) {
            factor_into(term, theta, lam);
        }
        // S = X'X - sum R_ZX' R_ZX, factorised in place below.
        let mut s_mat = std::mem::replace(s, DMatrix::zeros(0, 0));
        s_mat.copy_from(&self.xtx);
        t.copy_from(&response.xty);
        let mut cu2 = 0.0;
        let mut log_det_l = 0.0;
        for (block, w) in self.blocks.iter().zip(blocks.iter_mut()) {
            let m = block.m;
            // Lambda of the block: its pieces' factors on the diagonal.
            w.lam.fill(0.0);
            for piece in &block.pieces {
                let f = &factors[piece.term];
                let q = f.nrows();
                w.lam
                    .view_mut((piece.start, piece.start), (q, q))
                    .copy_from(f);
            }
            // A = Lambda' Z'Z Lambda + I = L L'.
            w.tmp.gemm(1.0, &block.ztz, &w.lam, 0.0);
            let mut a = std::mem::replace(&mut w.a, DMatrix::zeros(0, 0));
            a.gemm_tr(1.0, &w.lam, &w.tmp, 0.0);
            for i in 0..m {
                a[(i, i)] += 1.0;
            }
            let Some(chol) = Cholesky::new(a) else {
                w.a = DMatrix::zeros(m, m);
                *s = DMatrix::zeros(self.p, self.p);
                return f64::INFINITY;
            };
            log_det_l += chol.ln_determinant();
            // R_ZX = L^-1 Lambda' Z'X (on the block's columns) and
            // c_u = L^-1 Lambda' Z'y.
            let zty = DVectorView::from_slice(&response.zty[block.offset..block.offset + m], m);
            w.rzx.gemm_tr(1.0, &w.lam, &block.ztx, 0.0);
            w.cu.gemv_tr(1.0, &w.lam, &zty, 0.0);
            chol.l_dirty()
                .solve_lower_triangular_unchecked_mut(&mut w.rzx);
            chol.l_dirty()
                .solve_lower_triangular_unchecked_mut(&mut w.cu);
            w.a = chol.unpack_dirty();
            // S -= R_ZX' R_ZX and t -= R_ZX' c_u, on the block's columns.
            w.cross.gemm_tr(1.0, &w.rzx, &w.rzx, 0.0);
            w.rzx_cu.gemv_tr(1.0, &w.rzx, &w.cu, 0.0);
            for (x, &cx) in block.cols.iter().enumerate() {
                for (z, &cz) in block.cols.iter().enumerate() {
                    s_mat[(cx, cz)] -= w.cross[(x, z)];
                }
                t[cx] -= w.rzx_cu[x];
            }
            cu2 += w.cu.norm_squared();
        }
        let Some(chol) = Cholesky::new(s_mat) else {
            *s = DMatrix::zeros(self.p, self.p);
            return f64::INFINITY;
        };
        let log_det_x = chol.ln_determinant();
        c_beta.copy_from(t);
        chol.l_dirty().solve_lower_triangular_unchecked_mut(c_beta);
        *s = chol.unpack_dirty();
        *r2 = response.yty - cu2 - c_beta.norm_squared();
        if r2.is_nan() || *r2 <= 0.0 {
            return f64::INFINITY;
        }
        let dof = (self.n - self.p) as f64;
        log_det_l + log_det_x + dof * (1.0 + (2.0 * std::f64::consts::PI * *r2 / dof).ln())
    }
}

/// The REML criterion as argmin's cost function, with the workspace and
/// the count its evaluations share (a copy goes to each search).
#[derive(Clone, Copy)]
struct Criterion<'a> {
    model: &'a Model,
    response: &'a Response,
    ws: &'a RefCell<Workspace>,
    evaluations: &'a Cell<usize>,
}

impl CostFunction for Criterion<'_> {
    type Param = DVector<f64>;
    type Output = f64;

    /// Non-finite values become +infinity: the simplex moves away from
    /// them instead of comparing NaNs.
    fn cost(&self, theta: &DVector<f64>) -> Result<f64, argmin::core::Error> {
        self.evaluations.set(self.evaluations.get() + 1);
        let v = self
            .model
            .profile(theta.as_slice(), self.response, &mut self.ws.borrow_mut());
        Ok(if v.is_finite() { v } else { f64::INFINITY })
    }
}

/// The best point found.
struct Minimum {
    x: Vec<f64>,
    evaluations: usize,
    /// False when the last search ran out of iterations.
    converged: bool,
}

/// Minimises the criterion from `x0` with argmin's Nelder-Mead, restarted
/// from the best point while that improves it by more than `f_tol`.
/// Coefficients: Gao and Han's (2012, Comput. Optim. Appl. 51)
/// dimension-adaptive expansion and shrink, which keep the simplex from
/// collapsing in the 3 to 16 dimensions of the study's models, with
/// argmin's largest contraction (0.5; Gao and Han's is 0.75 - 1/(2n)).
fn minimize(criterion: Criterion, x0: &[f64], config: &Config) -> Result<Minimum, StageError> {
    let failed = |e: argmin::core::Error| {
        StageError::Data(format!("mixed model: the optimiser failed: {e}"))
    };
    let n = x0.len();
    let mut best = (
        x0.to_vec(),
        criterion
            .cost(&DVector::from_column_slice(x0))
            .map_err(failed)?,
    );
    // No variance parameter: nothing to search.
    if n == 0 {
        return Ok(Minimum {
            x: best.0,
            evaluations: criterion.evaluations.get(),
            converged: true,
        });
    }
    let nf = n as f64;
    let mut converged = false;
    for _ in 0..=config.max_restarts {
        let start = DVector::from_column_slice(&best.0);
        let mut simplex = vec![start.clone()];
        for i in 0..n {
            let mut v = start.clone();
            v[i] += config.step;
            simplex.push(v);
        }
        let solver = NelderMead::new(simplex)
            .with_sd_tolerance(config.f_tol)
            .and_then(|nm| nm.with_gamma(1.0 + 2.0 / nf))
            .and_then(|nm| nm.with_sigma((1.0 - 1.0 / nf).max(0.5)))
            .map_err(failed)?;
        let result = Executor::new(criterion, solver)
            .configure(|state| state.max_iters(config.max_iterations))
            .timer(false)
            .run()
            .map_err(failed)?;
        let state = result.state();
        let done = state.get_termination_reason() == Some(&TerminationReason::SolverConverged);
        let fx = state.get_best_cost();
        let improvement = best.1 - fx;
        if fx < best.1 {
            if let Some(x) = state.get_best_param() {
                best = (x.as_slice().to_vec(), fx);
            }
        }
        converged = done;
        if !done || improvement.is_nan() || improvement <= config.f_tol {
            break;
        }
    }
    Ok(Minimum {
        x: best.0,
        evaluations: criterion.evaluations.get(),
        converged,
    })
}

/// The columns of X [n, p] that are not (numerically) linear combinations
/// of the columns before them, in order: what lme4 keeps (R's pivoted QR,
/// which moves such columns to the end). One QR tells when X has full rank;
/// otherwise the columns are tried one at a time against those kept.
fn independent_columns(x: &DMatrix<f64>) -> Vec<usize> {
    let (n, p) = x.shape();
    let norms: Vec<f64> = (0..p).map(|j| x.column(j).norm()).collect();
    // R_jj of an unpivoted QR is column j's residual on the columns before it.
    let residual_ok = |r: &DMatrix<f64>, k: usize, j: usize| r[(k, k)].abs() > RANK_TOL * norms[j];
    if n >= p {
        let r = x.clone().qr().r();
        if (0..p).all(|j| residual_ok(&r, j, j)) {
            return (0..p).collect();
        }
    }
    let mut kept: Vec<usize> = Vec::new();
    for j in 0..p {
        if kept.len() == n {
            break;
        }
        let mut cols = kept.clone();
        cols.push(j);
        let r = x.select_columns(&cols).qr().r();
        if residual_ok(&r, kept.len(), j) {
            kept.push(j);
        }
    }
    kept
}

/// Where every random effect lives: the blocks, and per observation its
/// block and (index in block, value) entries.
struct Layout {
    blocks: Vec<Block>,
    obs_block: Vec<usize>,
    obs_entries: Vec<usize>,
    entries: Vec<(usize, f64)>,
}

impl Layout {
    /// `piece_base[k]`: the index of term k's first level among the
    /// `n_pieces` (term, level) pieces. Shapes are checked by the caller.
    fn new(
        terms: &[RandomTerm],
        piece_base: &[usize],
        n_pieces: usize,
        x: &[f64],
        p: usize,
    ) -> Layout {
        let n = x.len() / p;
        // Pieces that share an observation belong to one block.
        let touched = |term: &RandomTerm, i: usize| {
            let q = term.q();
            term.z[i * q..(i + 1) * q].iter().any(|&v| v != 0.0)
        };
        let mut sets = UnionFind::new(n_pieces);
        let mut used = vec![false; n_pieces];
        for i in 0..n {
            let mut first = None;
            for (k, term) in terms.iter().enumerate() {
                if touched(term, i) {
                    let piece = piece_base[k] + term.level[i];
                    used[piece] = true;
                    match first {
                        None => first = Some(piece),
                        Some(f) => sets.union(f, piece),
                    }
                }
            }
        }
        let mut block_of_root = vec![usize::MAX; n_pieces];
        let mut blocks: Vec<Block> = Vec::new();
        // (block, start) of each used piece.
        let mut place = vec![(usize::MAX, 0); n_pieces];
        for (k, term) in terms.iter().enumerate() {
            for level in 0..term.n_levels {
                let piece = piece_base[k] + level;
                if !used[piece] {
                    continue;
                }
                let root = sets.find(piece);
                if block_of_root[root] == usize::MAX {
                    block_of_root[root] = blocks.len();
                    blocks.push(Block {
                        pieces: Vec::new(),
                        m: 0,
                        offset: 0,
                        ztz: DMatrix::zeros(0, 0),
                        cols: Vec::new(),
                        ztx: DMatrix::zeros(0, 0),
                    });
                }
                let b = block_of_root[root];
                let block = &mut blocks[b];
                place[piece] = (b, block.m);
                block.pieces.push(Piece {
                    term: k,
                    start: block.m,
                });
                block.m += term.q();
            }
        }
        let mut offset = 0;
        for block in &mut blocks {
            block.offset = offset;
            offset += block.m;
            block.ztz = DMatrix::zeros(block.m, block.m);
            block.ztx = DMatrix::zeros(block.m, p);
        }

        let mut obs_block = vec![usize::MAX; n];
        let mut obs_entries = Vec::with_capacity(n + 1);
        let mut entries = Vec::new();
        obs_entries.push(0);
        for i in 0..n {
            let start = entries.len();
            for (k, term) in terms.iter().enumerate() {
                if !touched(term, i) {
                    continue;
                }
                let (b, piece_start) = place[piece_base[k] + term.level[i]];
                obs_block[i] = b;
                let q = term.q();
                for (j, &v) in term.z[i * q..(i + 1) * q].iter().enumerate() {
                    if v != 0.0 {
                        entries.push((piece_start + j, v));
                    }
                }
            }
            if obs_block[i] != usize::MAX {
                let block = &mut blocks[obs_block[i]];
                let xi = &x[i * p..(i + 1) * p];
                for &(a, va) in &entries[start..] {
                    for &(c, vc) in &entries[start..] {
                        block.ztz[(a, c)] += va * vc;
                    }
                    for (c, xv) in xi.iter().enumerate() {
                        block.ztx[(a, c)] += va * xv;
                    }
                }
            }
            obs_entries.push(entries.len());
        }
        for block in &mut blocks {
            block.cols = (0..p)
                .filter(|&c| block.ztx.column(c).iter().any(|&v| v != 0.0))
                .collect();
            block.ztx = block.ztx.select_columns(&block.cols);
        }

        Layout {
            blocks,
            obs_block,
            obs_entries,
            entries,
        }
    }
}

/// Writes a term's factor Lambda_k into `lam`, a [q, q] whose entries
/// outside the structure (the strict upper triangle; off the diagonal when
/// independent) stay zero (reused: this runs on every evaluation).
fn factor_into(term: &TermShape, theta: &[f64], lam: &mut DMatrix<f64>) {
    for col in 0..term.q() {
        for (row, &v) in (col..).zip(&theta[term.column_entries(col)]) {
            lam[(row, col)] = v;
        }
    }
}

/// One block's buffers.
struct BlockWork {
    /// [m, m].
    lam: DMatrix<f64>,
    /// Z'Z Lambda: [m, m].
    tmp: DMatrix<f64>,
    /// A, then its Cholesky factor L: [m, m].
    a: DMatrix<f64>,
    /// R_ZX: [m, cols].
    rzx: DMatrix<f64>,
    cu: DVector<f64>,
    /// R_ZX' R_ZX: [cols, cols].
    cross: DMatrix<f64>,
    /// R_ZX' c_u: [cols].
    rzx_cu: DVector<f64>,
}

/// Buffers of one criterion evaluation, sized once per fit.
struct Workspace {
    factors: Vec<DMatrix<f64>>,
    blocks: Vec<BlockWork>,
    /// X'X - R_ZX' R_ZX, then its Cholesky factor R_X': [p, p].
    s: DMatrix<f64>,
    t: DVector<f64>,
    c_beta: DVector<f64>,
    r2: f64,
}

impl Workspace {
    fn new(model: &Model) -> Workspace {
        let p = model.p;
        Workspace {
            factors: model
                .terms
                .iter()
                .map(|t| DMatrix::zeros(t.q(), t.q()))
                .collect(),
            blocks: model
                .blocks
                .iter()
                .map(|b| {
                    let (m, c) = (b.m, b.cols.len());
                    BlockWork {
                        lam: DMatrix::zeros(m, m),
                        tmp: DMatrix::zeros(m, m),
                        a: DMatrix::zeros(m, m),
                        rzx: DMatrix::zeros(m, c),
                        cu: DVector::zeros(m),
                        cross: DMatrix::zeros(c, c),
                        rzx_cu: DVector::zeros(c),
                    }
                })
                .collect(),
            s: DMatrix::zeros(p, p),
            t: DVector::zeros(p),
            c_beta: DVector::zeros(p),
            r2: 0.0,
        }
    }

    /// beta = R_X'^-1 c_beta, after a successful evaluation.
    fn fixed_effects(&self) -> Vec<f64> {
        let mut beta = self.c_beta.clone();
        self.s.tr_solve_lower_triangular_unchecked_mut(&mut beta);
        beta.as_slice().to_vec()
    }
}

/// Disjoint sets over 0..n (path halving).
struct UnionFind {
    parent: Vec<usize>,
}

impl UnionFind {
    fn new(n: usize) -> Self {
        UnionFind {
            parent: (0..n).collect(),
        }
    }

    fn find(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }

    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            self.parent[ra.max(rb)] = ra.min(rb);
        }
    }
}

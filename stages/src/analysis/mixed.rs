//! Linear mixed models fitted by REML, as lme4 does it (Bates, Maechler,
//! Bolker and Walker 2015, "Fitting linear mixed-effects models using lme4",
//! J. Stat. Softw. 67(1), section 3):
//!
//! y = X beta + Z Lambda u + e,  u ~ N(0, sigma^2 I),  e ~ N(0, sigma^2 I),
//!
//! where Lambda is block diagonal: one lower-triangular q x q factor per
//! random term (an unstructured covariance sigma^2 Lambda_k Lambda_k'),
//! repeated for every level of the term's grouping factor. For a given
//! theta (the factors' entries) beta and sigma^2 have closed forms, so the
//! REML criterion is minimised over theta alone.
//!
//! Random effects that never share an observation are independent given
//! theta: the fitter splits them once into such blocks (union-find over
//! the (term, level) pieces), so an evaluation factorises small dense
//! blocks instead of one sparse matrix. For the study's models these are
//! 2 x 2 blocks per (strategy, dataset) in Model 1, 3 x 3 per dataset in
//! Model 2, and one 16 x 16 block for the crossed source factors.
//!
//! theta is optimised unconstrained: the criterion depends on Lambda_k
//! only through Lambda_k Lambda_k', so a factor with a negative diagonal is
//! as good as the one with that column's sign flipped, which the fit
//! reports (lme4's canonical form, diagonal >= 0).

use super::dense::{back_solve_transposed, cholesky, forward_solve, log_det};
use super::nelder_mead::{self, Config};
use super::normal::Normal;
use crate::api::StageError;

/// lme4's `isSingular` tolerance on the factors' diagonal entries.
pub const SINGULAR_TOL: f64 = 1e-4;

/// A residual variance below this fraction of the mean square of y is an
/// exact fit.
const EXACT_FIT_TOL: f64 = 1e-10;

/// One random term: q columns whose coefficients vary over the levels of a
/// grouping factor, with an unstructured q x q covariance.
#[derive(Debug, Clone)]
pub struct RandomTerm {
    pub name: String,
    pub columns: Vec<String>,
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
    /// Where the term's lower-triangular entries (column-major, lme4's
    /// order) start in theta.
    theta_offset: usize,
}

impl TermShape {
    pub fn q(&self) -> usize {
        self.columns.len()
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
    ztz: Vec<f64>,
    /// The columns of X that meet the block's random effects (Z'X is
    /// often sparse: in Model 1 a block meets only its strategy's two).
    cols: Vec<usize>,
    /// Z'X restricted to `cols`: [m, cols.len()].
    ztx: Vec<f64>,
}

/// A model's design: X, the random terms, and what the criterion needs.
#[derive(Debug, Clone)]
pub struct Model {
    n: usize,
    p: usize,
    fixed_names: Vec<String>,
    /// [n, p].
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
    xtx: Vec<f64>,
}

/// The cross-products that involve y.
#[derive(Debug, Clone)]
pub struct Response {
    zty: Vec<f64>,
    xty: Vec<f64>,
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
    pub evaluations: usize,
    pub converged: bool,
}

impl Model {
    /// Checks the shapes and that X has full column rank, then precomputes.
    pub fn new(
        fixed_names: Vec<String>,
        x: Vec<f64>,
        terms: Vec<RandomTerm>,
    ) -> Result<Model, StageError> {
        let p = fixed_names.len();
        let bad = |m: String| StageError::Data(format!("mixed model: {m}"));
        let n = x.len().checked_div(p).unwrap_or(0);
        if p == 0 || n * p != x.len() {
            return Err(bad(format!("X has {} values for {p} columns", x.len())));
        }
        if n <= p {
            return Err(bad(format!(
                "{n} observations cannot estimate {p} fixed effects and a residual variance"
            )));
        }
        let mut xtx = vec![0.0; p * p];
        for row in x.chunks_exact(p) {
            add_outer(&mut xtx, p, row, row);
        }
        if let Err(j) = cholesky(&mut xtx.clone(), p) {
            return Err(bad(format!(
                "fixed effect `{}` is not estimable: its column is a linear combination of the columns before it",
                fixed_names[j]
            )));
        }

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
                theta_offset: theta_len,
            });
            theta_len += q * (q + 1) / 2;
            piece_base.push(n_pieces);
            n_pieces += term.n_levels;
        }

        let layout = Layout::new(&terms, &piece_base, n_pieces, &x, p);
        Ok(Model {
            n,
            p,
            fixed_names,
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

    pub fn fixed_names(&self) -> &[String] {
        &self.fixed_names
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
            let q = term.q();
            let mut at = term.theta_offset;
            for col in 0..q {
                theta[at] = 1.0;
                at += q - col;
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
        let mut xty = vec![0.0; p];
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
        let mut ws = Workspace::new(self);
        let min = nelder_mead::minimize(
            |theta| self.profile(theta, response, &mut ws),
            start,
            config,
        );
        let deviance = self.profile(&min.x, response, &mut ws);
        if !deviance.is_finite() {
            return Err(StageError::Data(
                "mixed model: the REML criterion is not finite at any point tried \
                 (a perfect fit, or a degenerate response)"
                    .into(),
            ));
        }
        let fixed = ws.fixed_effects(self.p);
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
                let mut cov = vec![0.0; q * q];
                for i in 0..q {
                    for j in 0..q {
                        cov[i * q + j] = residual_variance
                            * (0..q).map(|k| lam[i * q + k] * lam[j * q + k]).sum::<f64>();
                    }
                }
                cov
            })
            .collect::<Vec<_>>();
        Ok(Fit {
            fixed,
            singular: self.singularity(&theta, &covariances),
            theta,
            residual_variance,
            reml_log_likelihood: -deviance / 2.0,
            covariances,
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
        let mut b = vec![0.0; self.blocks.iter().map(|b| b.m).sum()];
        let mut w = Vec::new();
        for block in &self.blocks {
            for piece in &block.pieces {
                let term = &self.terms[piece.term];
                let q = term.q();
                let lam = self.factor(term, &fit.theta);
                w.clear();
                w.extend((0..q).map(|_| normal.sample()));
                for i in 0..q {
                    b[block.offset + piece.start + i] =
                        sigma * (0..=i).map(|k| lam[i * q + k] * w[k]).sum::<f64>();
                }
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
    fn factor(&self, term: &TermShape, theta: &[f64]) -> Vec<f64> {
        let mut lam = Vec::new();
        factor_into(term, theta, &mut lam);
        lam
    }

    /// Flips the sign of every factor column with a negative diagonal.
    fn canonical(&self, theta: &[f64]) -> Vec<f64> {
        let mut out = theta.to_vec();
        for term in &self.terms {
            let q = term.q();
            let mut at = term.theta_offset;
            for col in 0..q {
                if out[at] < 0.0 {
                    out[at..at + q - col].iter_mut().for_each(|v| *v = -*v);
                }
                at += q - col;
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
                if lam[col * q + col] >= SINGULAR_TOL {
                    continue;
                }
                let row_norm = (0..=col)
                    .map(|k| lam[col * q + k].powi(2))
                    .sum::<f64>()
                    .sqrt();
                if row_norm < SINGULAR_TOL {
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
        let p = self.p;
        ws.s.copy_from_slice(&self.xtx);
        ws.t.copy_from_slice(&response.xty);
        let mut cu2 = 0.0;
        let mut log_det_l = 0.0;
        for (term, lam) in self.terms.iter().zip(&mut ws.factors) {
            factor_into(term, theta, lam);
        }
        for block in &self.blocks {
            let m = block.m;
            // Lambda of the block, dense [m, m].
            let lam = &mut ws.lam[..m * m];
            lam.iter_mut().for_each(|v| *v = 0.0);
            for piece in &block.pieces {
                let q = self.terms[piece.term].q();
                let f = &ws.factors[piece.term];
                for i in 0..q {
                    for j in 0..=i {
                        lam[(piece.start + i) * m + piece.start + j] = f[i * q + j];
                    }
                }
            }
            // A = Lambda' Z'Z Lambda + I.
            let tmp = &mut ws.tmp[..m * m];
            for i in 0..m {
                for j in 0..m {
                    tmp[i * m + j] = (j..m).map(|k| block.ztz[i * m + k] * lam[k * m + j]).sum();
                }
            }
            let a = &mut ws.a[..m * m];
            for i in 0..m {
                for j in 0..=i {
                    let v: f64 = (i..m).map(|k| lam[k * m + i] * tmp[k * m + j]).sum();
                    a[i * m + j] = v + if i == j { 1.0 } else { 0.0 };
                }
            }
            if cholesky(a, m).is_err() {
                return f64::INFINITY;
            }
            log_det_l += log_det(a, m);
            // R_ZX = L^-1 Lambda' Z'X (on the block's columns) and
            // c_u = L^-1 Lambda' Z'y.
            let nc = block.cols.len();
            let rzx = &mut ws.rzx[..m * nc];
            let cu = &mut ws.cu[..m];
            let zty = &response.zty[block.offset..block.offset + m];
            for i in 0..m {
                for c in 0..nc {
                    rzx[i * nc + c] = (i..m).map(|k| lam[k * m + i] * block.ztx[k * nc + c]).sum();
                }
                cu[i] = (i..m).map(|k| lam[k * m + i] * zty[k]).sum();
            }
            forward_solve(a, m, rzx, nc);
            forward_solve(a, m, cu, 1);
            // S -= R_ZX' R_ZX and t -= R_ZX' c_u, on the block's columns.
            for i in 0..m {
                let row = &rzx[i * nc..(i + 1) * nc];
                for (x, &cx) in block.cols.iter().enumerate() {
                    for (z, &cz) in block.cols.iter().enumerate() {
                        ws.s[cx * p + cz] -= row[x] * row[z];
                    }
                    ws.t[cx] -= row[x] * cu[i];
                }
                cu2 += cu[i] * cu[i];
            }
        }
        if cholesky(&mut ws.s, p).is_err() {
            return f64::INFINITY;
        }
        ws.c_beta.copy_from_slice(&ws.t);
        forward_solve(&ws.s, p, &mut ws.c_beta, 1);
        let r2 = response.yty - cu2 - ws.c_beta.iter().map(|c| c * c).sum::<f64>();
        ws.r2 = r2;
        if r2.is_nan() || r2 <= 0.0 {
            return f64::INFINITY;
        }
        let dof = (self.n - p) as f64;
        log_det_l + log_det(&ws.s, p) + dof * (1.0 + (2.0 * std::f64::consts::PI * r2 / dof).ln())
    }
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
                        ztz: Vec::new(),
                        cols: Vec::new(),
                        ztx: Vec::new(),
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
            block.ztz = vec![0.0; block.m * block.m];
            block.ztx = vec![0.0; block.m * p];
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
                        block.ztz[a * block.m + c] += va * vc;
                    }
                    for (t, xv) in block.ztx[a * p..(a + 1) * p].iter_mut().zip(xi) {
                        *t += va * xv;
                    }
                }
            }
            obs_entries.push(entries.len());
        }
        for block in &mut blocks {
            block.cols = (0..p)
                .filter(|&c| (0..block.m).any(|a| block.ztx[a * p + c] != 0.0))
                .collect();
            block.ztx = (0..block.m)
                .flat_map(|a| block.cols.iter().map(move |&c| (a, c)))
                .map(|(a, c)| block.ztx[a * p + c])
                .collect();
        }

        Layout {
            blocks,
            obs_block,
            obs_entries,
            entries,
        }
    }
}

/// Writes a term's factor Lambda_k into `lam` as a dense lower-triangular
/// [q, q] (reusing its allocation: this runs on every evaluation).
fn factor_into(term: &TermShape, theta: &[f64], lam: &mut Vec<f64>) {
    let q = term.q();
    lam.clear();
    lam.resize(q * q, 0.0);
    let mut at = term.theta_offset;
    for col in 0..q {
        for row in col..q {
            lam[row * q + col] = theta[at];
            at += 1;
        }
    }
}

/// Buffers of one criterion evaluation, sized once per fit.
struct Workspace {
    factors: Vec<Vec<f64>>,
    lam: Vec<f64>,
    tmp: Vec<f64>,
    a: Vec<f64>,
    rzx: Vec<f64>,
    cu: Vec<f64>,
    /// X'X - R_ZX' R_ZX, then its Cholesky factor R_X: [p, p].
    s: Vec<f64>,
    t: Vec<f64>,
    c_beta: Vec<f64>,
    r2: f64,
}

impl Workspace {
    fn new(model: &Model) -> Workspace {
        let m = model.blocks.iter().map(|b| b.m).max().unwrap_or(0);
        let p = model.p;
        Workspace {
            factors: vec![Vec::new(); model.terms.len()],
            lam: vec![0.0; m * m],
            tmp: vec![0.0; m * m],
            a: vec![0.0; m * m],
            rzx: vec![0.0; m * p],
            cu: vec![0.0; m],
            s: vec![0.0; p * p],
            t: vec![0.0; p],
            c_beta: vec![0.0; p],
            r2: 0.0,
        }
    }

    /// beta = R_X'^-1 c_beta, after a successful evaluation.
    fn fixed_effects(&self, p: usize) -> Vec<f64> {
        let mut beta = self.c_beta.clone();
        back_solve_transposed(&self.s, p, &mut beta);
        beta
    }
}

/// out += a b' for vectors of length p.
fn add_outer(out: &mut [f64], p: usize, a: &[f64], b: &[f64]) {
    for (i, &ai) in a.iter().enumerate() {
        if ai != 0.0 {
            for (o, &bj) in out[i * p..(i + 1) * p].iter_mut().zip(b) {
                *o += ai * bj;
            }
        }
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

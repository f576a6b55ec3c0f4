//! Small dense kernels on row-major slices: the mixed-model fitter factorises
//! many blocks of size 1 to 16 per criterion evaluation, millions of times in
//! a bootstrap, so these work in place on preallocated buffers (a general
//! matrix library would allocate per call, and its generality buys nothing
//! at these sizes).

/// Pivots below this fraction of the original diagonal entry mean the
/// matrix is (numerically) not positive definite.
const PIVOT_TOL: f64 = 1e-10;

/// Cholesky factor of the symmetric positive definite `a` [n, n], in
/// place: on success the lower triangle holds L with L L' = A (the strict
/// upper triangle is left as it was). Err(j): the first column whose pivot
/// is not positive, i.e. column j depends linearly on columns 0..j.
pub fn cholesky(a: &mut [f64], n: usize) -> Result<(), usize> {
    for j in 0..n {
        let mut d = a[j * n + j];
        let scale = d.abs();
        for k in 0..j {
            d -= a[j * n + k] * a[j * n + k];
        }
        if !d.is_finite() || d <= PIVOT_TOL * scale {
            return Err(j);
        }
        let l = d.sqrt();
        a[j * n + j] = l;
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = s / l;
        }
    }
    Ok(())
}

/// Solves L X = B in place (B [n, cols], row-major), L the lower triangle of `l` [n, n].
pub fn forward_solve(l: &[f64], n: usize, b: &mut [f64], cols: usize) {
    for i in 0..n {
        for k in 0..i {
            let lik = l[i * n + k];
            if lik != 0.0 {
                for c in 0..cols {
                    b[i * cols + c] -= lik * b[k * cols + c];
                }
            }
        }
        let lii = l[i * n + i];
        for c in 0..cols {
            b[i * cols + c] /= lii;
        }
    }
}

/// Solves L' x = b in place, L the lower triangle of `l` [n, n].
pub fn back_solve_transposed(l: &[f64], n: usize, b: &mut [f64]) {
    for i in (0..n).rev() {
        let mut s = b[i];
        for k in i + 1..n {
            s -= l[k * n + i] * b[k];
        }
        b[i] = s / l[i * n + i];
    }
}

/// 2 * sum(log(diag L)) = log det(L L').
pub fn log_det(l: &[f64], n: usize) -> f64 {
    (0..n).map(|i| 2.0 * l[i * n + i].ln()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A = M M' + I for a fixed M: symmetric positive definite.
    fn spd(n: usize) -> Vec<f64> {
        let m: Vec<f64> = (0..n * n)
            .map(|i| ((i * 7 + 3) % 11) as f64 / 5.0 - 1.0)
            .collect();
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] = (0..n).map(|k| m[i * n + k] * m[j * n + k]).sum::<f64>()
                    + if i == j { 1.0 } else { 0.0 };
            }
        }
        a
    }

    #[test]
    fn factor_reproduces_the_matrix_and_solves() {
        let n = 6;
        let a = spd(n);
        let mut l = a.clone();
        cholesky(&mut l, n).unwrap();
        for i in 0..n {
            for j in 0..=i {
                let v: f64 = (0..=j).map(|k| l[i * n + k] * l[j * n + k]).sum();
                assert!((v - a[i * n + j]).abs() < 1e-12, "({i},{j})");
            }
        }
        // A x = b through L (L' x) = b.
        let x_true: Vec<f64> = (0..n).map(|i| i as f64 - 2.5).collect();
        let mut b: Vec<f64> = (0..n)
            .map(|i| (0..n).map(|j| a[i * n + j] * x_true[j]).sum())
            .collect();
        forward_solve(&l, n, &mut b, 1);
        back_solve_transposed(&l, n, &mut b);
        for (x, t) in b.iter().zip(&x_true) {
            assert!((x - t).abs() < 1e-10);
        }
        // det of a 2 x 2 by hand.
        let mut two = vec![4.0, 2.0, 2.0, 3.0];
        cholesky(&mut two, 2).unwrap();
        assert!((log_det(&two, 2) - 8f64.ln()).abs() < 1e-14);
    }

    #[test]
    fn forward_solve_handles_several_columns() {
        let l = vec![2.0, 0.0, 1.0, 4.0];
        let mut b = vec![2.0, 4.0, 5.0, 10.0];
        forward_solve(&l, 2, &mut b, 2);
        assert_eq!(b, vec![1.0, 2.0, 1.0, 2.0]);
    }

    #[test]
    fn dependent_columns_are_named() {
        // Column 2 = column 0 + column 1.
        let x = [
            [1.0, 0.0, 1.0],
            [0.0, 1.0, 1.0],
            [1.0, 1.0, 2.0],
            [2.0, 0.5, 2.5],
        ];
        let mut a = vec![0.0; 9];
        for row in &x {
            for i in 0..3 {
                for j in 0..3 {
                    a[i * 3 + j] += row[i] * row[j];
                }
            }
        }
        assert_eq!(cholesky(&mut a, 3), Err(2));
        assert_eq!(cholesky(&mut [f64::NAN], 1), Err(0));
    }
}

//! A compressed sparse row (CSR) matrix of non-negative label weights.

/// Row `r` holds `indices[indptr[r]..indptr[r + 1]]` (columns, strictly
/// ascending) with the matching `values`. Shape: `n_rows x n_cols`.
#[derive(Debug, Clone, PartialEq)]
pub struct Csr {
    pub n_rows: usize,
    pub n_cols: usize,
    /// `n_rows + 1` offsets into `indices` and `values`.
    pub indptr: Vec<usize>,
    pub indices: Vec<u32>,
    pub values: Vec<f64>,
}

impl Csr {
    /// Builds from (row, col, value) triplets in any order: duplicates are
    /// summed (a track listed twice with one tag counts both), and entries
    /// that end up exactly zero are dropped. Panics if a row or column is
    /// out of range (callers index their own vocabularies).
    pub fn from_triplets(n_rows: usize, n_cols: usize, triplets: &[(u32, u32, f64)]) -> Csr {
        let mut counts = vec![0usize; n_rows + 1];
        for &(r, c, _) in triplets {
            assert!(
                (r as usize) < n_rows && (c as usize) < n_cols,
                "triplet out of range"
            );
            counts[r as usize + 1] += 1;
        }
        for r in 0..n_rows {
            counts[r + 1] += counts[r];
        }
        // Scatter into rows (a counting sort), then sort and merge each row.
        let mut next = counts.clone();
        let mut scattered = vec![(0u32, 0.0f64); triplets.len()];
        for &(r, c, v) in triplets {
            let slot = &mut next[r as usize];
            scattered[*slot] = (c, v);
            *slot += 1;
        }
        let mut indptr = Vec::with_capacity(n_rows + 1);
        let mut indices = Vec::with_capacity(triplets.len());
        let mut values = Vec::with_capacity(triplets.len());
        indptr.push(0);
        for r in 0..n_rows {
            let row = &mut scattered[counts[r]..counts[r + 1]];
            row.sort_unstable_by_key(|&(c, _)| c);
            let mut i = 0;
            while i < row.len() {
                let (c, mut v) = row[i];
                i += 1;
                while i < row.len() && row[i].0 == c {
                    v += row[i].1;
                    i += 1;
                }
                if v != 0.0 {
                    indices.push(c);
                    values.push(v);
                }
            }
            indptr.push(indices.len());
        }
        Csr {
            n_rows,
            n_cols,
            indptr,
            indices,
            values,
        }
    }

    pub fn nnz(&self) -> usize {
        self.values.len()
    }

    /// The columns and values of row `r`.
    pub fn row(&self, r: usize) -> (&[u32], &[f64]) {
        let span = self.indptr[r]..self.indptr[r + 1];
        (&self.indices[span.clone()], &self.values[span])
    }

    /// The transpose, also in CSR form (i.e. this matrix's CSC form).
    pub fn transpose(&self) -> Csr {
        let mut indptr = vec![0usize; self.n_cols + 1];
        for &c in &self.indices {
            indptr[c as usize + 1] += 1;
        }
        for c in 0..self.n_cols {
            indptr[c + 1] += indptr[c];
        }
        let mut next = indptr.clone();
        let mut indices = vec![0u32; self.nnz()];
        let mut values = vec![0.0; self.nnz()];
        // Rows are visited in order, so each transposed row stays sorted.
        for r in 0..self.n_rows {
            let (cols, vals) = self.row(r);
            for (&c, &v) in cols.iter().zip(vals) {
                let slot = &mut next[c as usize];
                indices[*slot] = r as u32;
                values[*slot] = v;
                *slot += 1;
            }
        }
        Csr {
            n_rows: self.n_cols,
            n_cols: self.n_rows,
            indptr,
            indices,
            values,
        }
    }

    /// `G x n_cols` product `M · self`, where `M` (`G x n_rows`) is the 0/1
    /// membership matrix `M[g][r] = 1` iff `group_of_row[r] == Some(g)`:
    /// each group's row is the sum of its members' rows (artist x tag =
    /// artist-track map times track x tag).
    pub fn sum_rows_by_group(&self, group_of_row: &[Option<u32>], n_groups: usize) -> Csr {
        assert_eq!(group_of_row.len(), self.n_rows, "one group per row");
        let mut triplets = Vec::new();
        for (r, group) in group_of_row.iter().enumerate() {
            if let Some(g) = group {
                let (cols, vals) = self.row(r);
                triplets.extend(cols.iter().zip(vals).map(|(&c, &v)| (*g, c, v)));
            }
        }
        Csr::from_triplets(n_groups, self.n_cols, &triplets)
    }
}

/// A matrix with its empty rows and columns removed, and where each kept
/// row and column came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Compacted {
    pub matrix: Csr,
    pub kept_rows: Vec<usize>,
    pub kept_cols: Vec<usize>,
}

impl Csr {
    /// Drops rows and columns without entries (pLSA can say nothing about
    /// them), keeping the order of the rest.
    pub fn compact(&self) -> Compacted {
        let kept_rows: Vec<usize> = (0..self.n_rows)
            .filter(|&r| self.indptr[r + 1] > self.indptr[r])
            .collect();
        let mut used = vec![false; self.n_cols];
        for &c in &self.indices {
            used[c as usize] = true;
        }
        let mut new_col = vec![u32::MAX; self.n_cols];
        let mut kept_cols = Vec::new();
        for (c, _) in used.iter().enumerate().filter(|(_, &u)| u) {
            new_col[c] = kept_cols.len() as u32;
            kept_cols.push(c);
        }
        let mut indptr = Vec::with_capacity(kept_rows.len() + 1);
        let mut indices = Vec::with_capacity(self.nnz());
        let mut values = Vec::with_capacity(self.nnz());
        indptr.push(0);
        for &r in &kept_rows {
            let (cols, vals) = self.row(r);
            indices.extend(cols.iter().map(|&c| new_col[c as usize]));
            values.extend_from_slice(vals);
            indptr.push(indices.len());
        }
        Compacted {
            matrix: Csr {
                n_rows: kept_rows.len(),
                n_cols: kept_cols.len(),
                indptr,
                indices,
                values,
            },
            kept_rows,
            kept_cols,
        }
    }
}

"""numpy/scipy peer of our pLSA EM (stages/src/labels/plsa.rs), for the benchmark
stages/benches/plsa.rs, which writes the matrix and the start this script reads.

The same update as the Rust code, vectorised the way one would in numpy: with
p_dw = sum_z theta_dz phi_wz evaluated at the non-zeros only (a gather and a
row-wise dot, in chunks to stay in cache) and R = X / max(p, eps) as a sparse
matrix with X's pattern,

    theta' = normalise_rows(theta * (R @ phi))
    phi'   = normalise_cols(phi * (R.T @ theta))

Prints one JSON object: seconds per iteration, the log-likelihood each iteration
started from (sum x_dw ln max(p_dw, eps)), and the library versions.

Run: python plsa_peer.py DIR ITERATIONS
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import scipy
import scipy.sparse as sp

EPS = 1e-12
CHUNK = 1 << 15  # non-zeros per gather: 32k x 50 x 8 B = 13 MB per operand


def pair_dots(theta, phi, rows, cols, out):
    """out[i] = theta[rows[i]] . phi[cols[i]], chunked."""
    for start in range(0, len(rows), CHUNK):
        stop = min(start + CHUNK, len(rows))
        np.einsum(
            "ij,ij->i",
            theta[rows[start:stop]],
            phi[cols[start:stop]],
            out=out[start:stop],
        )
    return out


def normalise_rows(m):
    sums = m.sum(axis=1, keepdims=True)
    bad = ~(sums[:, 0] > 0) | ~np.isfinite(sums[:, 0])
    m /= np.where(sums > 0, sums, 1.0)
    m[bad] = 1.0 / m.shape[1]
    return m


def normalise_cols(m):
    sums = m.sum(axis=0, keepdims=True)
    bad = ~(sums[0] > 0) | ~np.isfinite(sums[0])
    m /= np.where(sums > 0, sums, 1.0)
    m[:, bad] = 1.0 / m.shape[0]
    return m


def em(x, theta, phi, iterations):
    rows = np.repeat(np.arange(x.shape[0], dtype=np.int64), np.diff(x.indptr))
    cols = x.indices
    p = np.empty(x.nnz)
    seconds, lls = [], []
    for _ in range(iterations):
        t0 = time.perf_counter()
        pair_dots(theta, phi, rows, cols, p)
        np.maximum(p, EPS, out=p)
        lls.append(float(x.data @ np.log(p)))
        r = sp.csr_matrix((x.data / p, x.indices, x.indptr), shape=x.shape)
        theta_next = normalise_rows(theta * (r @ phi))
        phi_next = normalise_cols(phi * (r.T @ theta))
        theta, phi = theta_next, phi_next
        seconds.append(time.perf_counter() - t0)
    return seconds, lls


def main():
    folder, iterations = Path(sys.argv[1]), int(sys.argv[2])
    n_rows, n_cols, _ = (int(v) for v in (folder / "shape.txt").read_text().split())
    x = sp.csr_matrix(
        (
            np.load(folder / "data.npy"),
            np.load(folder / "indices.npy"),
            np.load(folder / "indptr.npy"),
        ),
        shape=(n_rows, n_cols),
    )
    theta = np.load(folder / "theta0.npy")
    phi = np.load(folder / "phi0.npy")
    seconds, lls = em(x, theta, phi, iterations)
    print(
        json.dumps(
            {
                "seconds": seconds,
                "log_likelihood": lls,
                "versions": f"numpy {np.__version__}, scipy {scipy.__version__}",
            }
        )
    )


if __name__ == "__main__":
    main()

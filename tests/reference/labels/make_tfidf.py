"""Reference values for the TF-IDF weighting of the lyrics source.

Writes tfidf.json: a fixed tracks x words count matrix and scikit-learn's
TfidfTransformer() output for it (defaults: smooth_idf=True, norm="l2",
sublinear_tf=False). The Rust test `labels::tests::tfidf` compares against it.

Run: $HOME/.cache/mdr/venv-labels/bin/python make_tfidf.py
"""

import json
from pathlib import Path

import numpy as np
import sklearn
from scipy.sparse import csr_matrix
from sklearn.feature_extraction.text import TfidfTransformer

# Rows are tracks, columns words. Word 0 occurs everywhere (a stop word),
# word 6 once; row 4 has no words at all; row 5 a single word.
COUNTS = [
    [3, 0, 1, 0, 2, 0, 0],
    [1, 2, 0, 0, 0, 1, 0],
    [5, 0, 0, 4, 1, 0, 7],
    [2, 1, 1, 1, 1, 1, 0],
    [0, 0, 0, 0, 0, 0, 0],
    [0, 0, 0, 9, 0, 0, 0],
    [1, 0, 3, 0, 0, 2, 0],
]


def main() -> None:
    counts = np.array(COUNTS, dtype=np.float64)
    weighted = TfidfTransformer().fit_transform(csr_matrix(counts)).toarray()
    out = {
        "generator": f"scikit-learn {sklearn.__version__} TfidfTransformer() defaults",
        "counts": counts.tolist(),
        "tfidf": weighted.tolist(),
    }
    path = Path(__file__).with_name("tfidf.json")
    path.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Reads every mel table that `AUDIO_BENCH_STORE=DIR cargo bench -p stages
--bench audio` wrote to DIR with pyarrow, pandas, polars and DuckDB, and
checks that each gives the same [2, T, 128] values as file 0.

    check_readers.py DIR
"""

import glob
import os
import sys

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq


def readers(path):
    yield "pyarrow", pq.read_table(path)["mel"].combine_chunks().flatten().to_numpy()
    yield "pandas", np.stack(pd.read_parquet(path)["mel"].to_numpy()).reshape(-1)
    yield "polars", pl.read_parquet(path)["mel"].to_numpy().reshape(-1)
    rows = duckdb.sql(f"select mel from '{path}' order by channel, frame").fetchnumpy()["mel"]
    yield "duckdb", np.stack(rows).reshape(-1)


def main():
    files = sorted(glob.glob(os.path.join(sys.argv[1], "*.parquet")), key=lambda p: int(os.path.basename(p).split(".")[0]))
    want = None
    for path in files:
        for name, values in readers(path):
            values = np.asarray(values, dtype=np.float32)
            want = values if want is None else want
            assert np.array_equal(values, want), f"{path}: {name} differs"
        print(f"{os.path.basename(path)}: pyarrow, pandas, polars, duckdb agree")
    print(f"versions: pyarrow {pa.__version__}, pandas {pd.__version__}, polars {pl.__version__}, duckdb {duckdb.__version__}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The README's reader snippets, run against a published folder: DuckDB and pandas/pyarrow.

usage: readme_snippets.py PUBLISH_DIR AS_OF
Prints one JSON line: what each reader saw (rows, the type of as_of and date columns).
"""
import json
import sys

import duckdb
import pandas as pd

publish, as_of = sys.argv[1], sys.argv[2]
moves = duckdb.sql(f"""select * from read_parquet('{publish}/largest_daily_moves/*/*.parquet', hive_partitioning = true)
where as_of = '{as_of}' order by rank""")
types = dict(zip(moves.columns, [str(t) for t in moves.types]))
df = pd.read_parquet(f"{publish}/yield_periods", partitioning=None)
latest = df[df.as_of == df.as_of.max()]
print(json.dumps({
    "duckdb_rows": len(moves.fetchall()),
    "duckdb_as_of": types["as_of"],
    "duckdb_date": types["date"],
    "duckdb_rank": types["rank"],
    "pandas_rows": len(latest),
    "pandas_as_of": str(latest.as_of.iloc[0]),
}))

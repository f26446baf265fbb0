#!/usr/bin/env python3
"""Reads a run published to the S3-compatible server with independent clients.

usage: s3_check.py ENDPOINT BUCKET PREFIX AS_OF
pyarrow's S3FileSystem reads a dataset and latest.json; boto3 lists the keys and fetches the
sha256 of one data file. Prints one JSON line.
"""
import hashlib
import json
import sys

import boto3
import pyarrow.fs as pafs
import pyarrow.parquet as pq

endpoint, bucket, prefix, as_of = sys.argv[1:5]
host = endpoint.removeprefix("http://")
fs = pafs.S3FileSystem(endpoint_override=host, scheme="http", access_key="test", secret_key="test", region="us-east-1")
# partitioning=None: the as_of DATE column is in the file (see README, "Opening the outputs").
s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix + "/")["Contents"])
data_key = next(k for k in keys if k.startswith(f"{prefix}/largest_daily_moves/as_of={as_of}/") and k.endswith(".parquet"))
table = pq.read_table(f"{bucket}/{data_key}", filesystem=fs, partitioning=None)
with fs.open_input_stream(f"{bucket}/{prefix}/latest.json") as f:
    latest = json.loads(f.read())
body = s3.get_object(Bucket=bucket, Key=data_key)["Body"].read()
print(json.dumps({
    "rows": table.num_rows,
    "as_of_type": str(table.schema.field("as_of").type),
    "latest": latest,
    "keys": keys,
    "sha256": hashlib.sha256(body).hexdigest(),
}))

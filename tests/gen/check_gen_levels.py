#!/usr/bin/env python3
"""Independent recomputation of the index levels written by `exhibits gen`.

usage: check_gen_levels.py DROP_DIR

Reads the constituents_YYYY.csv files with the standard library only, recomputes the
cap-weighted (R1000, R2000, R3000) and sector-equal-weighted (R1000_EW, R2000_EW) price and
total-return levels from the rules in crates/gen/src/lib.rs (and ../shared/bench/WORKLOAD.md),
and prints one JSON line: the worst relative difference against index_levels.csv, and facts
about the drop (sort order, R1000 members before and after the June reconstitution).
A second implementation in another language: it shares no code with the generator.
"""
import collections
import csv
import glob
import json
import sys

drop = sys.argv[1]
CAP = ("R1000", "R2000", "R3000")
levels = {k: [1000.0, 1000.0] for k in CAP + ("R1000_EW", "R2000_EW")}
prev = {}  # security -> (shares, close) on its previous row
blocks = {}  # security -> [index, w0, growth_tr, growth_pr]
mine = {}
members = {}
unsorted = 0
prev_month = None


def close_day(date, rows):
    """Applies one day's returns; rebalances the sector-equal blocks at a quarter's first day."""
    global blocks, prev_month
    sums = collections.defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])  # w_tr, w_tr*r, w_pr, w_pr*r
    for sid, code, sector, shares, close, div in rows:
        if sid not in prev:
            continue
        pshares, pclose = prev[sid]
        tr = (close + div) / pclose - 1
        pr = close / pclose - 1
        w = pshares * pclose
        for k in (code, "R3000"):
            s = sums[k]
            s[0] += w; s[1] += w * tr; s[2] += w; s[3] += w * pr
        if sid in blocks:
            k, w0, g, gp = blocks[sid]
            s = sums[k]
            s[0] += w0 * g; s[1] += w0 * g * tr; s[2] += w0 * gp; s[3] += w0 * gp * pr
            blocks[sid] = [k, w0, g * (1 + tr), gp * (1 + pr)]
    for k, s in sums.items():
        if s[2] > 0:
            levels[k][0] *= 1 + s[3] / s[2]
        if s[0] > 0:
            levels[k][1] *= 1 + s[1] / s[0]
    for sid, code, sector, shares, close, div in rows:
        prev[sid] = (shares, close)
    mine[date] = {k: tuple(v) for k, v in levels.items()}
    members[date] = sum(1 for r in rows if r[1] == "R1000")
    month = int(date[5:7])
    if month in (1, 4, 7, 10) and month != prev_month:
        count = collections.Counter((r[1], r[2]) for r in rows)
        sectors = {c: len({s for (cc, s) in count if cc == c}) for c in ("R1000", "R2000")}
        blocks = {r[0]: [r[1] + "_EW", 1.0 / (sectors[r[1]] * count[(r[1], r[2])]), 1.0, 1.0] for r in rows}
    prev_month = month


for path in sorted(glob.glob(drop + "/constituents_*.csv")):
    with open(path, newline="") as f:
        reader = csv.reader(f)
        assert next(reader) == ["date", "security_id", "ticker", "sector", "index_code", "shares", "close", "dividend"]
        day, rows, last = None, [], None
        for row in reader:
            key = (row[0], int(row[1]))
            if last is not None and key <= last:
                unsorted += 1
            last = key
            if row[0] != day:
                if day is not None:
                    close_day(day, rows)
                day, rows = row[0], []
            rows.append((int(row[1]), row[4], row[3], int(row[5]), float(row[6]), float(row[7])))
        close_day(day, rows)

worst = 0.0
with open(drop + "/index_levels.csv", newline="") as f:
    for row in csv.DictReader(f):
        want = mine[row["date"]][row["index_id"]]
        got = (float(row["price_level"]), float(row["total_return_level"]))
        worst = max(worst, *(abs(g / w - 1) for g, w in zip(got, want)))
dates = sorted(members)
june = [d for d in dates if d[5:7] == "06"][-1]
july = [d for d in dates if d[5:7] == "07"][0]
print(json.dumps({"worst_relative_difference": worst, "unsorted_rows": unsorted, "days": len(dates),
                  "r1000_last_june_day": members[june], "r1000_first_july_day": members[july]}))

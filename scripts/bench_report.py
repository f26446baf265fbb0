#!/usr/bin/env python3
"""The readable end of `make bench`, from JSON lines on stdin.

  bench_report.py agreement   compare.py's lines: one line per implementation
  bench_report.py table       `run_bench.py --summarize` lines: a Markdown table with one more
                              column, exhibits' time over the fastest peer's per step and for the
                              whole pipeline (< 1 is faster)
Lines that are not JSON (the harness's own table) are dropped.
"""
import json
import sys

rows = [json.loads(line) for line in sys.stdin if line.startswith("{")]
if sys.argv[1:] == ["agreement"]:
    for r in rows:
        worst = max(v["max_abs_diff"] or 0 for v in r["index_returns"].values())
        moves = r["top_moves"]["n_security_mismatch"]
        print(f"{r['other']}: ok={r['ok']}  index returns max |diff| {worst:.1e}  top-move mismatches {moves}")
    sys.exit(0)
steps = ["ingest", "compute", "report"]
peers = sorted({r["peer"] for r in rows} - {"exhibits"})
print("| scale | step | exhibits | " + " | ".join(peers) + " | exhibits / fastest peer |")
print("|---|---|---:|" + "---:|" * len(peers) + "---:|")


def cell(r):
    if r is None or "wall_s" not in r:
        return "-" if r is None else f"failed ({r.get('status')})"
    return f"{r['wall_s']:.2f}{'' if r['clean_runs'] else '*'} s / {r['max_rss_mb']:.0f} MB"


for scale in sorted({r["scale"] for r in rows}):
    totals = {}
    for step in steps:
        by = {r["peer"]: r for r in rows if r["scale"] == scale and r["step"] == step}
        for p, r in by.items():
            totals[p] = totals.get(p, 0) + r.get("wall_s", float("nan"))
        ours = by.get("exhibits", {}).get("wall_s")
        best = min((by[p]["wall_s"] for p in peers if p in by and "wall_s" in by[p]), default=None)
        ratio = f"{ours / best:.2f}" if ours and best else "-"
        print(f"| {scale} | {step} | {cell(by.get('exhibits'))} | " + " | ".join(cell(by.get(p)) for p in peers)
              + f" | {ratio} |")
    best = min((totals[p] for p in peers if p in totals), default=None)
    ours = totals.get("exhibits")
    print(f"| {scale} | whole | {ours:.2f} s | " + " | ".join(f"{totals.get(p, float('nan')):.2f} s" for p in peers)
          + f" | {ours / best:.2f} |" if ours and best else "")
print("\n(* = another process used the CPU during every run of that cell)")

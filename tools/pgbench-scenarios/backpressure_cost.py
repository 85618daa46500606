#!/usr/bin/python3
"""Write-path cost of backpressure (issue 12) on its own: the same interleaved measurement the
runner reports (`run --only backpressure`; method in bench/backpressure.py). Prints the median
TPS of none / backpressure off / on and their ratios with their spread. Usage:
  PGT_PG_BIN=... tools/pgbench-scenarios/backpressure_cost.py [--seconds 8] [--rounds 3]
"""
import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.dont_write_bytecode = True
sys.path[:0] = [HERE, os.path.join(REPO, "tests", "harness")]
from bench.backpressure import measure  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    r = measure(a.seconds, a.rounds)
    t = {k: v["median"] for k, v in r["tps"].items()}
    print(f"median tps: none {t['none']:.0f}, backpressure off {t['off']:.0f} "
          f"(ratio {r['off_ratio']['median']:.3f}, spread {r['off_ratio']['spread']}), "
          f"backpressure on {t['on']:.0f} (ratio {r['on_ratio']['median']:.3f}, spread "
          f"{r['on_ratio']['spread']}); baselines {r['baseline_max_diff']:.1%} apart"
          + (" (FLAGGED: > 10 %)" if r["baselines_flagged"] else "")
          + f"; writers seen waiting: {r['writers_seen_waiting']}")


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Unit test of the integration workload generator and oracle (tests/integration/common.py)
against a plain PostgreSQL primary (no extension, no engine). Exits non-zero on failure."""
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
from common import Harness, TestFailure, Workload, run_concurrent, parse_args  # noqa: E402


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)
    print(f"ok - {msg}", flush=True)


def table_ids(h, t):
    return {r[0] for r in h.primary_sql(f"SELECT id FROM {t}")}


def same_content(h, a, b):
    return h.primary_sql(f"SELECT count(*) FROM ((TABLE {a} EXCEPT ALL TABLE {b}) UNION ALL "
                         f"(TABLE {b} EXCEPT ALL TABLE {a})) x")[0][0] == 0


def main():
    args = parse_args()
    seed = args.seed
    print(f"seed={seed}", flush=True)
    t0 = time.time()
    with Harness(args.build_dir, seed=seed, create_extension=False,
                 cluster_kwargs={"with_standby": False, "preload": False}) as h:
        dsn = h.cluster.primary_dsn
        wl = Workload(dsn, seed, table="src").create_table()
        stats = wl.run(300)
        print(f"stats: {stats}", flush=True)
        for k, v in stats.items():
            check(v > 0, f"workload exercised {k} ({v})")
        check(table_ids(h, "src") == wl.ids, "shadow id set equals the table's ids")
        n = h.primary_sql("SELECT count(*) FROM src")[0][0]
        check(n > 50, f"table has rows ({n})")
        for c in ("grp", "cat", "amount", "qty", "flag", "d", "ts"):
            nulls = h.primary_sql(f"SELECT count(*) FROM src WHERE {c} IS NULL")[0][0]
            check(nulls > 0, f"NULLs in {c} ({nulls})")
        check(h.primary_sql("SELECT count(DISTINCT grp) FROM src")[0][0] >= 5, "several groups")

        wl2 = Workload(dsn, seed, table="src_replay").create_table()
        wl2.run(300)
        check(same_content(h, "src", "src_replay"), "same seed replays to identical content")
        check(wl2.stats == stats, "same seed, same statement counts")

        wl3 = Workload(dsn, seed + 1, table="src_other").create_table()
        wl3.run(50)
        check(not same_content(h, "src", "src_other"), "another seed gives other content")

        wl4 = Workload(dsn, seed, table="src_toast", toast_prob=0.2).create_table()
        wl4.run(30)
        big = h.primary_sql("SELECT count(*) FROM src_toast WHERE length(cat) > 2000")[0][0]
        check(big > 0, f"toast_prob produces large values ({big})")

        Workload(dsn, seed, table="src_conc").create_table()
        wls = run_concurrent(dsn, seed, 3, 60, table="src_conc")
        union = set().union(*(w.ids for w in wls))
        check(table_ids(h, "src_conc") == union, "3 concurrent workers: ids match their shadows")

        # The oracle: a fake "stream table" with __pgt_row_id.
        q = "SELECT grp, count(*) AS n, sum(amount) AS total FROM src GROUP BY grp"
        h.primary_sql("CREATE TABLE st (__pgt_row_id uuid DEFAULT gen_random_uuid() PRIMARY KEY,"
                      " grp int, n bigint, total numeric)")
        h.primary_sql(f"INSERT INTO st (grp, n, total) {q}")
        h.assert_stream_table_matches_query("st", q)
        h.primary_sql("UPDATE st SET n = n + 1 WHERE grp = 1")
        h.primary_sql("INSERT INTO st (grp, n, total) VALUES (NULL, 0, NULL)")
        try:
            h.assert_stream_table_matches_query("st", q)
            raise AssertionError("mismatch not detected")
        except TestFailure as e:
            check("3 row(s)" in str(e), "oracle reports 3 differing rows (+2 -1)")
        h.primary_sql(f"DELETE FROM st; INSERT INTO st (grp, n, total) {q}; "
                      f"INSERT INTO st (grp, n, total) {q} LIMIT 1")
        try:
            h.assert_stream_table_matches_query("st", q)
            raise AssertionError("duplicate not detected")
        except TestFailure:
            check(True, "oracle detects a duplicated row (EXCEPT ALL, not EXCEPT)")
    print(f"1 passed, 0 failed ({time.time() - t0:.1f}s)")


if __name__ == "__main__":
    try:
        main()
    except (AssertionError, Exception) as e:  # noqa: BLE001
        print(f"FAIL: {type(e).__name__}: {e}", flush=True)
        print("0 passed, 1 failed")
        sys.exit(1)

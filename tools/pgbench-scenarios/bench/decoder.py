"""Decoder throughput: a logical slot with test_decoding is created before a fixed pgbench
workload; over exactly that WAL range, pg_logical_slot_peek_changes (counted server-side) vs
pgtrickle-waldump (the walreader library, test_decoding's text format, reading the physical WAL
stream from the standby), best of two runs each; the row counts of both must agree."""
from __future__ import annotations

import os
import subprocess
import time

from bench.common import log, pgbench, r3


def run(sr):
    scen, size = sr.scen, sr.sz["tps_size"]
    waldump = sr.b.waldump_path
    sr.sql("SELECT 'x' FROM pg_create_logical_replication_slot('pgt_bench_td', "
             "'test_decoding')")
    try:
        start = sr.sql("SELECT pg_current_wal_insert_lsn()::text")[0][0]
        n = sr.sz["decoder_txns"]
        log(f"{scen.name}: decoder workload, {n} transactions per client")
        pgbench(sr.c, scen, size, sr.cfg["clients"], txns=n, tmp=sr.b.tmp,
                tag="decoder")
        end, nbytes = sr.sql("SELECT pg_current_wal_insert_lsn()::text, "
                               "pg_current_wal_insert_lsn() - %s::pg_lsn", (start,))[0]
        nbytes = int(nbytes)
        # make sure every page through `end` is on disk (the insert position's page may
        # otherwise still hold a recycled segment's old content)
        # (a commit with an xid after `end` flushes WAL past it; pg_switch_wal() here makes
        # pgtrickle-waldump crash with SIGSEGV as of this writing)
        # Pad with ~1 MB of later WAL so every page through `end` and the next ones are
        # written: pgtrickle-waldump reads a page past `end`, and a not-yet-written page of a
        # recycled segment is reported as Corruption (unexpected pageaddr).
        sr.sql("CREATE TABLE pgt_bench_pad AS SELECT g, repeat('x', 40) AS t "
                 "FROM generate_series(1, 15000) g")
        sr.sql("DROP TABLE pgt_bench_pad")
        sr.sql("CHECKPOINT")
        td_runs, td_rows, td_lines = [], None, None
        for _ in range(2):
            t0 = time.time()
            rows, lines = sr.sql(
                "SELECT count(*) FILTER (WHERE data NOT LIKE 'BEGIN%%' AND data NOT LIKE "
                "'COMMIT%%'), count(*) FROM pg_logical_slot_peek_changes('pgt_bench_td', "
                "%s::pg_lsn, NULL, 'include-xids', '0', 'skip-empty-xacts', '1')",
                (end,))[0]
            td_runs.append(time.time() - t0)
            td_rows, td_lines = int(rows), int(lines)
        wd_runs, wd_rows, wd_lines, wd_cpu = [], None, None, []
        outpath = os.path.join(sr.b.tmp, f"waldump-{scen.name}.txt")
        # Physical WAL stream from the standby, as the engine reads it. (--wal-dir on the
        # live primary's pg_wal fails with "Corruption: unexpected pageaddr" on pages of
        # recycled segments as of this writing.)
        sr.c.wait_standby_caught_up(timeout=300)
        argv = [waldump, f"--stream={sr.c.standby_dsn}", f"--start={start}",
                f"--end={end}", f"--catalog={sr.c.primary_dsn}"]
        for _ in range(2):
            with open(outpath, "w") as outf:
                t0 = time.time()
                ru0 = os.times()
                p = subprocess.run(argv, stdout=outf, stderr=subprocess.PIPE, text=True)
                wd_runs.append(time.time() - t0)
                ru1 = os.times()
                wd_cpu.append((ru1.children_user - ru0.children_user)
                              + (ru1.children_system - ru0.children_system))
            if p.returncode != 0:
                raise RuntimeError(f"pgtrickle-waldump failed (exit {p.returncode}): "
                                   f"{p.stderr.strip()[:1000]}")
            rows = lines = 0
            with open(outpath) as f:
                for line in f:
                    lines += 1
                    if line != "BEGIN\n" and line != "COMMIT\n":
                        rows += 1
            wd_rows, wd_lines = rows, lines
        os.unlink(outpath)
        t0 = time.time()
        subprocess.run(argv[:2] + [f"--start={start}", f"--end={start}"] + argv[4:],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wd_empty = time.time() - t0
    finally:
        sr.sql("SELECT pg_drop_replication_slot('pgt_bench_td')")
    td_s, wd_s = min(td_runs), min(wd_runs)
    dec = {
        "wal_range": [start, end], "wal_mb": r3(nbytes / 1048576),
        "transactions": sr.cfg["clients"] * sr.sz["decoder_txns"],
        "test_decoding_rows": td_rows, "test_decoding_lines": td_lines,
        "test_decoding_s_runs": [r3(x) for x in td_runs],
        "decoder_rows": wd_rows, "decoder_lines": wd_lines,
        "decoder_s_runs": [r3(x) for x in wd_runs],
        "decoder_cpu_s_runs": [r3(x) for x in wd_cpu],
        "decoder_empty_range_s": r3(wd_empty),
        "decoder_rows_per_s": round(wd_rows / wd_s),
        "test_decoding_rows_per_s": round(td_rows / td_s),
        "decoder_speedup": r3((wd_rows / wd_s) / (td_rows / td_s)),
        "same_output_size": wd_lines == td_lines,
        "method": "best of 2 runs each over the same WAL range; test_decoding via "
                  "pg_logical_slot_peek_changes on a slot created before the workload "
                  "(count(*) server-side); ours = pgtrickle-waldump (walreader, test_decoding "
                  "text format) over a physical replication stream from the standby, output "
                  "to a file",
    }
    if wd_lines != td_lines:
        dec["note"] = (f"output differs in size: test_decoding {td_lines} lines, "
                       f"pgtrickle-waldump {wd_lines} lines")
    sr.out["decoder"] = dec

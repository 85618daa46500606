#!/usr/bin/env python3
r"""Decoder benchmark: pgtrickle-waldump vs. the server's test_decoding on the same WAL range.

Starts a throwaway PostgreSQL 15 (as the unprivileged `postgres` user, Unix socket in a temp dir,
always stopped), creates pgbench's tables (accounts, tellers, branches, history) and an
append-only `events` table (bigint, int, numeric, text, timestamptz), creates a logical slot and
writes up to four WAL ranges (--ranges, default all):

  mixed:   tpcb-like transactions (3 UPDATEs + 1 INSERT each) interleaved with multi-row INSERT
           transactions into `events`, about --rows row changes in total (one session, a DO
           loop committing each transaction);
  big_txn: one transaction inserting --big-txn rows into `events`;
  append:  --append-txns one-row INSERT transactions into `events_ao` by pgbench, 4 clients (the
           append-only scenario of tools/pgbench-scenarios: events.pgbench, one INSERT per
           transaction): per-transaction cost dominates;
  tpcb:    --tpcb-txns transactions of pgbench's tpcb-like script, 4 clients (the tpcb_like
           scenario).

For each range both decoders run over the same WAL:
  test_decoding  pg_logical_slot_peek_changes(slot, end, NULL, 'include-xids', '0',
                 'skip-empty-xacts', '1') in a fresh psql session, lines counted server-side
                 (count(*)), so only the decoding is timed (psql \timing), not a transfer; the
                 backend reads its own /proc/self/status (VmHWM: peak RSS, also shown before the
                 call) and /proc/self/stat (CPU seconds) before and after;
  waldump        pgtrickle-waldump --wal-dir=pg_wal --start --end --catalog --format=test_decoding
                 (default reorder buffer limit 64 MiB = the server's logical_decoding_work_mem),
                 stdout to a file; peak RSS (= VmHWM at exit) and CPU (user + system) from
                 GNU time (/usr/bin/time -f '%M %U %S'). Process start and catalog reads are included (the time of
                 an empty range is reported separately);
  waldump_stream the same with --stream=CONNINFO (physical replication from the server) instead
                 of --wal-dir: the path tools/pgbench-scenarios/run measures (there from a
                 standby);
  baseline(_stream) with --baseline=OTHER_WALDUMP: the same two with another build (e.g. the
                 main branch's), for before/after ratios measured in the same run.
Each is timed best of --runs (default 3, the two decoders interleaved): wall clock, and CPU
seconds. On a shared machine the wall-clock
ratio suffers from CPU contention (the backend and waldump wait for a core); the CPU ratio is the
steadier figure. Change lines (not BEGIN/COMMIT) of both must be equal in number; with --quick the
full outputs are compared byte for byte (psql \o of the peek output, as tests/oracle_check.py).
Needs only PostgreSQL 15's binaries (psql), no client library.

usage: decode_bench.py WALDUMP [--rows N] [--big-txn N] [--append-txns N] [--tpcb-txns N]
                               [--ranges=mixed,big_txn,append,tpcb] [--quick] [--runs N]
                               [--json PATH] [--reorder-memory-limit BYTES] [--keep]
                               [--baseline OTHER_WALDUMP]
Prints a table and writes JSON (default ./decode_bench.json). Exit 0 when every figure exists and
the outputs agree, 1 otherwise; 77 (skip) without root / PostgreSQL 15 / the postgres user.
No timing is asserted: the ratio is reported.
"""
import json
import os
import pwd
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
import oracle_check as oc  # noqa: E402

BIN = oc.BIN

SCHEMA = """
create table pgbench_branches(bid int primary key, bbalance int, filler char(88));
create table pgbench_tellers(tid int primary key, bid int, tbalance int, filler char(84));
create table pgbench_accounts(aid int primary key, bid int, abalance int, filler char(84));
create table pgbench_history(hid bigserial primary key, tid int, bid int, aid int, delta int,
                             mtime timestamp, filler char(22));
create table events(id bigserial primary key, ts timestamptz not null, kind int not null,
                    user_id bigint not null, amount numeric(12,2), note text);
create table events_ao(id bigserial primary key, ts bigint not null, type int not null,
                       user_id int not null, amount int not null);
insert into pgbench_branches select b, 0, '' from generate_series(1, %(branches)d) b;
insert into pgbench_tellers select t, (t - 1) / 10 + 1, 0, '' from generate_series(1, %(tellers)d) t;
insert into pgbench_accounts select a, (a - 1) / 100000 + 1, 0, '' from generate_series(1, %(accounts)d) a;
"""

# tpcb-like transactions and event batches, one COMMIT each (procedures may commit).
MIXED = """
do $$
declare
  v_aid int; v_tid int; v_bid int; v_delta int;
begin
  for i in 1 .. %(tpcb)d loop
    v_aid := 1 + (random() * (%(accounts)d - 1))::int;
    v_tid := 1 + (random() * (%(tellers)d - 1))::int;
    v_bid := 1 + (random() * (%(branches)d - 1))::int;
    v_delta := (random() * 10000)::int - 5000;
    update pgbench_accounts set abalance = abalance + v_delta where aid = v_aid;
    update pgbench_tellers set tbalance = tbalance + v_delta where tid = v_tid;
    update pgbench_branches set bbalance = bbalance + v_delta where bid = v_bid;
    insert into pgbench_history(tid, bid, aid, delta, mtime) values (v_tid, v_bid, v_aid, v_delta, now());
    commit;
    if i %% %(every)d = 0 then
      insert into events(ts, kind, user_id, amount, note)
        select now() + g * interval '1 ms', g %% 7, (random() * 1e12)::bigint,
               round((random() * 1000)::numeric, 2),
               case when g %% 5 = 0 then null else 'event ' || md5(g::text) end
        from generate_series(1, %(batch)d) g;
      commit;
    end if;
  end loop;
end $$;
"""

BIG_TXN = """
insert into events(ts, kind, user_id, amount, note)
  select timestamptz '2024-01-01 00:00:00+00' + g * interval '1 s', g %% 7, g::bigint * 7919,
         (g %% 100000) / 100.0, 'big ' || g
  from generate_series(1, %(n)d) g;
"""


# tools/pgbench-scenarios/events.pgbench (one INSERT per transaction) on events_ao.
APPEND_PGBENCH = r"""\set ty random(1, 16)
\set uid random(1, 100000)
\set amt random(1, 1000)
INSERT INTO events_ao (ts, type, user_id, amount) VALUES (extract(epoch FROM clock_timestamp())::bigint, :ty, :uid, :amt);
"""

# pgbench's built-in tpcb-like script, with this schema's sizes (the built-in one takes the scale
# from pgbench_branches and would address 10x more accounts than exist).
TPCB_PGBENCH = r"""\set aid random(1, %(accounts)d)
\set bid random(1, %(branches)d)
\set tid random(1, %(tellers)d)
\set delta random(-5000, 5000)
BEGIN;
UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
UPDATE pgbench_tellers SET tbalance = tbalance + :delta WHERE tid = :tid;
UPDATE pgbench_branches SET bbalance = bbalance + :delta WHERE bid = :bid;
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (:tid, :bid, :aid, :delta, CURRENT_TIMESTAMP);
END;
"""


class Server(oc.Server):
    """The oracle's throwaway server (as postgres, Unix socket in a temp dir, always stopped),
    tuned for bulk WAL: no archiving, no full-page writes, no checkpoint inside a range."""

    def start(self):
        super().start(16, "archive_mode=off\nsynchronous_commit=off\nfull_page_writes=off\n"
                          "max_wal_size=8GB\ncheckpoint_timeout=1h\nautovacuum=off\n")

    def sql(self, text):
        """First column of the first row, as text."""
        return self.psql(text).decode().split("\n")[0].split("|")[0]

    def pgbench(self, script, clients, txns):
        """Runs `script` with pgbench: `clients` sessions, `txns` transactions each."""
        path = os.path.join(self.w, "bench.pgbench")
        with open(path, "w") as f:
            f.write(script)
        os.chmod(path, 0o644)
        self.run([oc.CLIENT_BIN + "/pgbench", "-n", "-c", str(clients), "-j", "2",
                  "-t", str(txns), "-h", self.w, "-p", str(self.port), "-U", "postgres",
                  "-f", path, "postgres"])


# Read by the decoding backend itself (superuser): its peak RSS and CPU ticks.
PROC_SQL = ("select '%s', (regexp_match(pg_read_file('/proc/self/status'), 'VmHWM:\\s+(\\d+)'))[1], "
            "split_part(pg_read_file('/proc/self/stat'), ') ', 2);\n")


def proc_fields(line):
    """(VmHWM KB, utime+stime seconds) from a PROC_SQL output line."""
    _, hwm, stat = line.split("|", 2)
    f = stat.split()
    return int(hwm), (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def time_test_decoding(srv, slot, end, full_output):
    """One decoding of the slot's WAL up to `end` in a fresh backend (one psql session): (seconds
    as timed by psql, change lines, all lines, output or None, backend VmHWM before and after in
    KB, backend CPU seconds)."""
    args = "'include-xids', '0', 'skip-empty-xacts', '1'"
    out_path = os.path.join(srv.w, "peek.out")
    script = PROC_SQL % "before" + "\\timing on\n"
    if full_output:
        script += ("\\o %s\nselect data from pg_logical_slot_peek_changes('%s', '%s', NULL, %s);\n"
                   "\\o\n" % (out_path, slot, end, args))
    else:
        script += ("select 'counts', count(*) filter (where data <> 'BEGIN' and data <> 'COMMIT'), "
                   "count(*) from pg_logical_slot_peek_changes('%s', '%s', NULL, %s);\n"
                   % (slot, end, args))
    script += "\\timing off\n" + PROC_SQL % "after"
    path = os.path.join(srv.w, "peek.sql")
    with open(path, "w") as f:
        f.write(script)
    os.chmod(path, 0o644)
    res = srv.psql(file=path).decode().splitlines()
    before = [x for x in res if x.startswith("before|")][0]
    after = [x for x in res if x.startswith("after|")][0]
    secs = float([x for x in res if x.startswith("Time: ")][0].split()[1]) / 1000.0
    hwm0, cpu0 = proc_fields(before)
    hwm1, cpu1 = proc_fields(after)
    out = None
    if full_output:
        with open(out_path, "rb") as f:
            out = f.read()
        os.unlink(out_path)
        lines = out.count(b"\n")
        changes = lines - out.count(b"BEGIN\n") - out.count(b"COMMIT\n")
    else:
        _, changes, lines = [x for x in res if x.startswith("counts|")][0].split("|")
        changes, lines = int(changes), int(lines)
    return secs, changes, lines, out, hwm0, hwm1, cpu1 - cpu0


def time_waldump(waldump, argv, outpath, keep_output):
    """(seconds, change lines, all lines, output bytes or None, peak RSS KB, stderr, CPU s).

    Peak RSS and CPU come from GNU time (wait4 of its own child): a child forked directly from
    this Python process would inherit Python's RSS high-water mark into ru_maxrss at exec."""
    rusage = outpath + ".time"
    with open(outpath, "wb") as out:
        t0 = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-o", rusage, "-f", "%M %U %S", waldump] + argv,
                           stdout=out, stderr=subprocess.PIPE)
        secs = time.perf_counter() - t0
    with open(rusage) as f:
        fields = f.read().split()
    os.unlink(rusage)
    if p.returncode != 0:
        raise RuntimeError("pgtrickle-waldump failed (exit %d): %s"
                           % (p.returncode, p.stderr.decode(errors="replace")[:2000]))
    lines = begins = commits = 0
    with open(outpath, "rb") as f:   # counted in chunks: the output may be hundreds of MB
        tail = b""
        while True:
            chunk = f.read(1 << 22)
            if not chunk:
                break
            block = tail + chunk
            cut = block.rfind(b"\n") + 1
            whole, tail = block[:cut], block[cut:]
            lines += whole.count(b"\n")
            begins += whole.count(b"BEGIN\n")
            commits += whole.count(b"COMMIT\n")
    data = None
    if keep_output:
        with open(outpath, "rb") as f:
            data = f.read()
    return (secs, lines - begins - commits, lines, data, int(fields[-3]), p.stderr,
            float(fields[-2]) + float(fields[-1]))


def measure(srv, waldump, name, slot, start, end, opts):
    nbytes = int(srv.sql("select '%s'::pg_lsn - '%s'::pg_lsn" % (end, start)))
    full = opts["quick"]

    common = ["--start=" + start, "--end=" + end, "--catalog=" + srv.conninfo(),
              "--format=test_decoding"]
    if opts["limit"]:
        common += ["--reorder-memory-limit=%d" % opts["limit"],
                   "--spill-dir=" + os.path.join(srv.w, "spill")]
    pg_wal, stream = ("--wal-dir=" + os.path.join(srv.w, "data", "pg_wal"),
                      "--stream=" + srv.conninfo())
    # label -> (binary, source argument)
    runs_of = {"waldump": (waldump, pg_wal), "waldump_stream": (waldump, stream)}
    if opts["baseline"]:
        runs_of.update({"baseline": (opts["baseline"], pg_wal),
                        "baseline_stream": (opts["baseline"], stream)})
    outpath = os.path.join(srv.w, "waldump-%s.out" % name)
    # Interleaved (td, wd, td, wd...): all see the same machine load, which on a shared machine
    # changes within seconds.
    td, wd = [], {k: [] for k in runs_of}
    for _ in range(opts["runs"]):
        td.append(time_test_decoding(srv, slot, end, full))
        for k, (binary, src) in runs_of.items():
            wd[k].append(time_waldump(binary, [src] + common, outpath, full))
    os.unlink(outpath)
    td_best = min(td, key=lambda r: r[0])
    mb = nbytes / 1048576.0
    res = {
        "range": name, "start": start, "end": end, "wal_bytes": nbytes,
        "test_decoding": {
            "seconds_runs": [round(r[0], 3) for r in td], "change_lines": td_best[1],
            "lines": td_best[2], "rows_per_s": round(td_best[1] / td_best[0]),
            "wal_mb_per_s": round(mb / td_best[0], 1),
            "backend_vmhwm_kb_before": td_best[4], "backend_vmhwm_kb": max(r[5] for r in td),
            "cpu_seconds_runs": [round(r[6], 3) for r in td],
            "rows_per_cpu_s": round(td_best[1] / max(min(r[6] for r in td), 0.01))},
    }
    problems = []
    if td_best[1] == 0:
        problems.append("%s: test_decoding decoded no change" % name)
    for who, (binary, src) in runs_of.items():
        runs = wd[who]
        best = min(runs, key=lambda r: r[0])
        empty = time_waldump(binary, [src, "--start=" + start, "--end=" + start] + common[2:],
                             outpath, False)
        os.unlink(outpath)
        d = res[who] = {
            "seconds_runs": [round(r[0], 3) for r in runs], "change_lines": best[1],
            "lines": best[2], "rows_per_s": round(best[1] / best[0]),
            "wal_mb_per_s": round(mb / best[0], 1),
            "peak_rss_kb": max(r[4] for r in runs), "empty_range_seconds": round(empty[0], 3),
            "cpu_seconds_runs": [round(r[6], 3) for r in runs],
            "rows_per_cpu_s": round(best[1] / max(min(r[6] for r in runs), 0.01)),
            "reorder_memory_limit": opts["limit"] or "default (64 MiB)"}
        suffix = who[len("waldump"):] if who.startswith("waldump") else "_" + who
        res["ratio_rows_per_s" + suffix] = round(d["rows_per_s"] / res["test_decoding"]["rows_per_s"], 2)
        res["ratio_rows_per_cpu_s" + suffix] = round(d["rows_per_cpu_s"]
                                                     / res["test_decoding"]["rows_per_cpu_s"], 2)
        if td_best[1] != best[1] or td_best[2] != best[2]:
            problems.append("%s: line counts differ: test_decoding %d changes / %d lines, %s %d / %d"
                            % (name, td_best[1], td_best[2], who, best[1], best[2]))
        if full:
            same = all(r[3] == td_best[3] for r in runs)
            res["outputs_identical" + suffix] = same
            if not same:
                problems.append("%s: %s output differs (%s)"
                                % (name, who, first_diff(td_best[3], best[3])))
    for who in ["test_decoding"] + list(runs_of):
        for k, v in res[who].items():
            if v is None or (isinstance(v, (int, float)) and v <= 0 and k != "empty_range_seconds"):
                problems.append("%s: figure %s.%s is missing (%r)" % (name, who, k, v))
    return res, problems


def first_diff(a, b):
    la, lb = a.split(b"\n"), b.split(b"\n")
    for i in range(max(len(la), len(lb))):
        x = la[i] if i < len(la) else b"<end>"
        y = lb[i] if i < len(lb) else b"<end>"
        if x != y:
            return "line %d: test_decoding %r / waldump %r" % (i + 1, x[:200], y[:200])
    return "no differing line"


def print_table(results):
    hdr = "%-8s %-15s %9s %11s %9s %8s %12s %9s %12s" % (
        "range", "decoder", "seconds", "rows/s", "MB/s WAL", "CPU s", "rows/CPU-s", "changes",
        "peak RSS MB")
    print(hdr)
    print("-" * len(hdr))
    for r in results:
        td = r["test_decoding"]
        who = ["test_decoding"] + [k for k in ("waldump", "waldump_stream", "baseline",
                                                "baseline_stream") if k in r]
        for name in who:
            d = r[name]
            rss = d["backend_vmhwm_kb"] if name == "test_decoding" else d["peak_rss_kb"]
            print("%-8s %-15s %9.3f %11d %9.1f %8.2f %12d %9d %12.1f" % (
                r["range"], name, min(d["seconds_runs"]), d["rows_per_s"], d["wal_mb_per_s"],
                min(d["cpu_seconds_runs"]), d["rows_per_cpu_s"], d["change_lines"], rss / 1024.0))
        for name in who[1:]:
            suffix = name[len("waldump"):] if name.startswith("waldump") else "_" + name
            print("%-8s ratio %s/test_decoding: %.2fx rows/s, %.2fx rows/CPU-s (empty range %.3f s)"
                  % (r["range"], name, r["ratio_rows_per_s" + suffix],
                     r["ratio_rows_per_cpu_s" + suffix], r[name]["empty_range_seconds"]))
        print("%-8s WAL %.1f MB, %d transactions; backend VmHWM before decoding %.1f MB"
              % (r["range"], r["wal_bytes"] / 1048576.0, (td["lines"] - td["change_lines"]) // 2,
                 td["backend_vmhwm_kb_before"] / 1024.0))


RANGES = ("mixed", "big_txn", "append", "tpcb")


def parse_args(argv):
    opts = {"rows": 1000000, "big": 1000000, "append": 60000, "tpcb": 32000, "quick": False,
            "runs": 3, "json": "decode_bench.json", "limit": 0, "keep": False,
            "ranges": list(RANGES), "baseline": None}
    explicit = set()
    for a in argv:
        k, _, v = a.partition("=")
        if k == "--rows": opts["rows"] = int(v); explicit.add("rows")
        elif k == "--big-txn": opts["big"] = int(v); explicit.add("big")
        elif k == "--runs": opts["runs"] = int(v); explicit.add("runs")
        elif k == "--baseline": opts["baseline"] = os.path.abspath(v)
        elif k == "--append-txns": opts["append"] = int(v); explicit.add("append")
        elif k == "--tpcb-txns": opts["tpcb"] = int(v); explicit.add("tpcb")
        elif k == "--ranges":
            opts["ranges"] = [x for x in v.split(",") if x]
            bad = [x for x in opts["ranges"] if x not in RANGES]
            if bad: raise SystemExit("unknown range(s) %s (known: %s)" % (bad, ", ".join(RANGES)))
        elif k == "--json": opts["json"] = v
        elif k == "--reorder-memory-limit": opts["limit"] = int(v)
        elif a == "--quick": opts["quick"] = True
        elif a == "--keep": opts["keep"] = True
        else: raise SystemExit("unknown argument %s\n%s" % (a, __doc__))
    if opts["quick"]:
        for k, v in (("rows", 40000), ("big", 100000), ("append", 4000), ("tpcb", 2000),
                     ("runs", 1)):
            if k not in explicit:
                opts[k] = v
    return opts


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    waldump = os.path.abspath(sys.argv[1])
    # accept --opt VALUE as well as --opt=VALUE
    rest, i = [], 2
    while i < len(sys.argv):
        a = sys.argv[i]
        if a in ("--rows", "--big-txn", "--append-txns", "--tpcb-txns", "--ranges", "--runs",
                 "--json", "--reorder-memory-limit", "--baseline") and i + 1 < len(sys.argv):
            rest.append(a + "=" + sys.argv[i + 1]); i += 2
        else:
            rest.append(a); i += 1
    opts = parse_args(rest)
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return 77
    if os.getuid() != 0 or not os.access(BIN + "/initdb", os.X_OK):
        return 77
    # Mixed range: 4 changes per tpcb transaction, plus a batch of `batch` events every `every`.
    every, batch = 10, 60   # 40 tpcb rows + 60 events rows per 10 iterations
    tpcb = max(10, opts["rows"] // 100 * 10)
    scale = {"branches": 10, "tellers": 100, "accounts": 100000, "tpcb": tpcb, "every": every,
             "batch": batch}
    srv = Server(opts["keep"])
    results, problems = [], []
    t_start = time.time()
    try:
        srv.start()
        srv.psql(SCHEMA % scale)
        srv.psql("vacuum analyze")

        def run_range(name, write, what):
            """Slot, workload, WAL flushed through its end, both decoders over the range."""
            slot = "bench_" + name
            srv.sql("select 'x' from pg_create_logical_replication_slot('%s', 'test_decoding')"
                    % slot)
            start = srv.sql("select pg_current_wal_insert_lsn()::text")
            t0 = time.time()
            write()
            end = srv.sql("select pg_current_wal_insert_lsn()::text")
            print("decode_bench: %s workload %.1fs (%s)" % (name, time.time() - t0, what),
                  flush=True)
            srv.sql("select pg_switch_wal()")   # flushes WAL through `end`
            r, p = measure(srv, waldump, name, slot, start, end, opts)
            srv.sql("select pg_drop_replication_slot('%s')" % slot)
            results.append(r)
            problems.extend(p)

        if "mixed" in opts["ranges"]:
            run_range("mixed", lambda: srv.psql(MIXED % scale),
                      "%d tpcb transactions, %d event batches" % (tpcb, tpcb // every))
        if "big_txn" in opts["ranges"] and opts["big"] > 0:
            run_range("big_txn", lambda: srv.psql(BIG_TXN % {"n": opts["big"]}),
                      "one %d-row transaction" % opts["big"])
        clients = 4
        if "append" in opts["ranges"] and opts["append"] > 0:
            per = max(1, opts["append"] // clients)
            run_range("append", lambda: srv.pgbench(APPEND_PGBENCH, clients, per),
                      "pgbench, %d clients x %d one-row INSERT transactions" % (clients, per))
        if "tpcb" in opts["ranges"] and opts["tpcb"] > 0:
            per = max(1, opts["tpcb"] // clients)
            run_range("tpcb", lambda: srv.pgbench(TPCB_PGBENCH % scale, clients, per),
                      "pgbench, %d clients x %d tpcb-like transactions" % (clients, per))
    finally:
        srv.stop()
    print_table(results)
    report = {"quick": opts["quick"], "rows_requested": opts["rows"], "big_txn_rows": opts["big"],
              "append_txns": opts["append"], "tpcb_txns": opts["tpcb"],
              "runs": opts["runs"], "elapsed_s": round(time.time() - t_start, 1),
              "loadavg_1m": os.getloadavg()[0], "results": results, "problems": problems,
              "method": "best of runs, wall clock; test_decoding counted server-side by "
                        "pg_logical_slot_peek_changes (or fetched whole with --quick); waldump "
                        "over pg_wal and over a physical replication stream, to a file; same "
                        "WAL range, same server"}
    with open(opts["json"], "w") as f:
        json.dump(report, f, indent=2)
    print("decode_bench: JSON written to %s" % opts["json"])
    for p in problems:
        print("decode_bench: FAIL: " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    import signal
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))   # run `finally`: stop the server
    sys.exit(main())

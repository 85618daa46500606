"""One scenario of the runner: its own primary + standby (tests/harness), the phases the scenario
lists (write path, freshness, decoder, merge), and the engine process helpers they share."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import signal
import time
import traceback

import psycopg2

from common import Harness  # tests/integration/common.py: cluster + engine
from bench import decoder, freshness, merge, write_path
from bench.common import log, proc_cpu_s

PHASES = {
    "write_path": write_path.run,
    "freshness": freshness.run,
    "decoder": decoder.run,
    "merge": merge.run,
}


class ScenarioRun:
    def __init__(self, bench, scen):
        self.b = bench
        self.scen = scen
        self.mode = bench.mode
        self.cfg = bench.cfg
        self.sz = scen.sizes[bench.mode]
        self.out = {"summary": scen.summary, "status": "ok",
                    "size_unit": scen.size_unit,
                    "stream_tables": [{"name": n, "query": q} for n, q in scen.stream_tables],
                    "schedule": scen.schedule, "phases": list(scen.phases)}
        if scen.large_txn_rows:
            self.out["large_txn_rows"] = scen.large_txn_rows[bench.mode]
        self.h = None
        self.base_tps = None          # shared-cores baseline TPS (median), set by write_path
        self.changes_at_engine_stop = None

    # ---- helpers
    @property
    def c(self):
        return self.h.cluster

    def sql(self, q, params=None):
        return self.c.primary_sql(q, params)

    def settle(self):
        """Same state for every configuration: vacuum, checkpoint, standby caught up."""
        self.sql("VACUUM ANALYZE")
        self.sql("CHECKPOINT")
        self.c.wait_standby_caught_up(timeout=300)

    def create_stream_tables(self):
        for name, q in self.scen.stream_tables:
            self.sql("SELECT pgtrickle.create_stream_table(%s, %s, schedule => %s)",
                     (name, q, self.scen.schedule))

    def drop_stream_tables(self):
        for (name,) in self.sql("SELECT name FROM pgtrickle.pgt_stream_tables"):
            self.sql("SELECT pgtrickle.drop_stream_table(%s)", (name,))

    def start_engine(self, fresh=False, placement=None):
        """Start the engine (fresh = empty state dir); pin it when a placement is given."""
        eng = self.h.engine
        if eng.running():
            eng.stop(timeout=120, expect_rc=None)
        if fresh:
            shutil.rmtree(eng.state_dir, ignore_errors=True)
        eng.binary = self.b.engine_path
        try:
            self._log_mark = os.path.getsize(eng.log_path)
        except OSError:
            self._log_mark = 0
        eng.start()
        if placement is not None:
            placement.apply(self.c, eng.proc.pid)
        return eng

    def wait_engine_started(self, timeout=600):
        """Until the engine just started logs "engine started" (its state is open: RocksDB
        recovered, decoder starting); returns its CPU seconds at that point."""
        eng, deadline = self.h.engine, time.time() + timeout
        while True:
            with open(eng.log_path, errors="replace") as f:
                f.seek(self._log_mark)
                if "engine started" in f.read():
                    return self.engine_cpu_s()
            eng.check_alive()
            if time.time() > deadline:
                raise RuntimeError(f"engine did not log 'engine started' within {timeout} s")
            time.sleep(0.05)

    def start_engine_fresh(self):
        return self.start_engine(fresh=True)

    def stop_engine(self, keep_state=False):
        eng = self.h.engine
        if eng.running():
            eng.stop(timeout=120, expect_rc=None)
        if not keep_state:
            shutil.rmtree(eng.state_dir, ignore_errors=True)

    @property
    def engine_pid(self):
        return self.h.engine.proc.pid

    def engine_cpu_s(self):
        return proc_cpu_s(self.engine_pid)

    def wait_frontiers(self, timeout, lsn=None):
        t0 = time.time()
        self.h.wait_all_frontiers(lsn, timeout=timeout)
        return time.time() - t0

    def source_changes(self, settle_stats=True):
        """n_tup_ins + upd + del of the scenario's sources (backends flush their counters when
        they exit; pgbench's backends have exited when it returns)."""
        if settle_stats:
            time.sleep(0.6)
        names = [s.split(".")[-1] for s in self.scen.sources]
        r = self.sql("SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) "
                     "FROM pg_stat_user_tables WHERE schemaname = 'public' AND relname = ANY(%s)",
                     (names,))
        return int(r[0][0])

    # ---- profile of the engine (--profile)
    def perf_start(self, tag):
        if not self.b.profile:
            return None
        path = os.path.join(self.b.tmp, f"perf-{self.scen.name}-{tag}.data")
        p = subprocess.Popen(["perf", "record", "-F", "499", "-g", "-p", str(self.engine_pid),
                              "-o", path], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True)
        return (p, path)

    def perf_stop(self, handle, limit=25):
        """Stop perf; the top symbols by self time and including callees into the report."""
        if handle is None:
            return
        p, path = handle
        p.send_signal(signal.SIGINT)
        try:
            _, err = p.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            p.kill()
            err = "perf record did not stop"

        def report(*how):
            rep = subprocess.run(["perf", "report", "-i", path, "--stdio", "-g", "none",
                                  "--percent-limit", "0.5"] + list(how),
                                 text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            top = [re.sub(r"\s+", " ", ln).strip().removesuffix(" - -")
                   for ln in rep.stdout.splitlines() if ln.strip() and not ln.startswith("#")]
            return top[:limit] or [f"(no samples: {(rep.stderr or err or '').strip()[:300]})"]

        self.out["profile"] = {
            "tool": "perf record -F 499 -g -p <engine pid>; perf report",
            "window": "the first engine run of the write path (shared cores): catch-up of the "
                      "baseline's backlog, the pgbench run, catch-up after it",
            "self": report("--no-children", "--sort", "dso,symbol"),
            "with_callees": report("--children", "--sort", "symbol")}

    # ---- the scenario
    def run(self):
        scen = self.scen
        with Harness(self.b.build_dir) as h:
            self.h = h
            if scen.needs:
                reason = self.check_supported()
                if reason:
                    self.out = {"summary": scen.summary, "status": "skipped",
                                "reason": f"skipped: needs {scen.needs} ({reason})"}
                    log(f"{scen.name}: {self.out['reason']}")
                    return self.out
            if "write_path" in scen.phases:
                log(f"{scen.name}: loading {self.sz['tps_size']} ({scen.size_unit})")
                scen.load(self.c, self.sz["tps_size"])
                self.settle()
            for ph in scen.phases:
                self.phase(ph, PHASES[ph])
            self.stop_engine()
        return self.out

    def phase(self, name, fn):
        t0 = time.time()
        try:
            fn(self)
        except Exception as e:  # noqa: BLE001 - recorded; the figures will be missing
            traceback.print_exc()
            self.out.setdefault("errors", {})[name] = f"{type(e).__name__}: {e}"[:2000]
            try:
                self.stop_engine()
                self.drop_stream_tables()
            except Exception:  # noqa: BLE001
                pass
        log(f"{self.scen.name}: {name} took {time.time() - t0:.0f} s")
        self.out.setdefault("phase_seconds", {})[name] = round(time.time() - t0, 1)

    def check_supported(self):
        """Try to create the stream tables on an empty schema; return why not, or None."""
        self.scen.load(self.c, 10)
        try:
            self.create_stream_tables()
        except psycopg2.Error as e:
            if e.pgcode == "0A000":
                return (e.pgerror or str(e)).strip().splitlines()[0]
            raise
        self.drop_stream_tables()
        return None

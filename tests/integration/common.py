"""Helpers for integration tests: cluster + extension + engine + oracle checks + workload.

Typical test (tests/integration/test_*.py, run by CTest as
`/usr/bin/python3 test_x.py --build-dir BUILD`):

    from common import Harness, Workload
    with Harness.from_argv() as h:               # primary + standby, CREATE EXTENSION pg_trickle
        wl = Workload(h.cluster.primary_dsn, seed=h.seed)
        wl.create_table()
        h.primary_sql("SELECT pgtrickle.create_stream_table('public.st', $$SELECT grp, count(*) "
                      "AS n FROM src GROUP BY grp$$, schedule => '1 second')")
        h.start_engine()
        wl.run(200)
        h.wait_for_frontier('public.st', h.cluster.primary_lsn())
        h.assert_stream_table_matches_query('public.st',
                                            'SELECT grp, count(*) AS n FROM src GROUP BY grp')
        h.kill_engine(); h.start_engine()        # crash + restart
    # everything is stopped on exit, exception, SIGINT, SIGTERM; engine log printed on failure
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import decimal
import io
import json
import os
import random
import signal
import subprocess
import threading
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "harness"))

from cluster import Cluster, ClusterError, add_signal_hook  # noqa: E402

import psycopg2  # noqa: E402
import psycopg2.extensions  # noqa: E402


class TestFailure(AssertionError):
    pass


def log(msg: str) -> None:
    print(f"[test {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def parse_args(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", default=os.environ.get("PGT_BUILD_DIR",
                                                          os.path.join(REPO, "build")))
    ap.add_argument("--seed", type=int, default=None,
                    help="workload seed (default: $PGT_SEED or random); printed for replay")
    ap.add_argument("--keep", action="store_true", help="keep the data dir after the test")
    a, _ = ap.parse_known_args(argv)
    if a.seed is None:
        a.seed = int(os.environ["PGT_SEED"]) if os.environ.get("PGT_SEED") else \
            random.SystemRandom().randrange(1, 2**31)
    return a


# ================================================================== engine process

class Engine:
    """The pgtrickle-engine daemon (docs/engine-cli.md). Logs go to one file across restarts."""

    def __init__(self, binary: str, cluster: Cluster, state_dir: str, log_path: str,
                 extra_args=None):
        self.binary = binary
        self.cluster = cluster
        self.state_dir = state_dir
        self.log_path = log_path
        self.extra_args = list(extra_args or [])
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def argv(self, extra=None):
        c = self.cluster
        return [self.binary, "--primary", c.primary_dsn, "--standby", c.standby_dsn,
                "--state-dir", self.state_dir, "--slot", c.slot or "pgtrickle_engine"] + \
            self.extra_args + list(extra or [])

    def start(self, extra=None):
        if self.running():
            raise TestFailure("engine already running")
        if not os.access(self.binary, os.X_OK):
            raise TestFailure(f"engine binary not found or not executable: {self.binary} "
                              f"(build it: cmake --build build --target pgtrickle-engine)")
        self.starts += 1
        argv = self.argv(extra)
        with open(self.log_path, "a") as f:
            f.write(f"===== start #{self.starts} at {time.strftime('%H:%M:%S')}: "
                    f"{' '.join(argv)}\n")
        logf = open(self.log_path, "a")
        self.proc = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        logf.close()
        log(f"engine started (pid {self.proc.pid}), log {self.log_path}")
        return self

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 30, expect_rc: int | None = 0) -> int | None:
        """SIGTERM and wait; kill -9 after timeout. Checks the exit code (0 = clean stop)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self._note("killed after SIGTERM timeout")
                raise TestFailure(f"engine did not stop within {timeout}s of SIGTERM")
        rc = self.proc.returncode
        self._note(f"exited rc={rc}")
        self.proc = None
        if expect_rc is not None and rc != expect_rc:
            raise TestFailure(f"engine exited with {rc}, expected {expect_rc}")
        return rc

    def kill(self):
        """kill -9 (crash)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
            self._note("killed with SIGKILL")
            log("engine killed with SIGKILL")
        self.proc = None

    def check_alive(self):
        if self.proc is not None and self.proc.poll() is not None:
            rc = self.proc.returncode
            self.proc = None
            raise TestFailure(f"engine exited unexpectedly with rc={rc}")

    def _note(self, msg):
        with open(self.log_path, "a") as f:
            f.write(f"===== {msg} at {time.strftime('%H:%M:%S')}\n")

    def print_log(self, lines: int = 200):
        if os.path.exists(self.log_path):
            with open(self.log_path, errors="replace") as f:
                tail = f.readlines()[-lines:]
            print(f"----- last {len(tail)} lines of engine log {self.log_path} -----",
                  flush=True)
            sys.stdout.write("".join(tail))
            print("-----", flush=True)


# ================================================================== harness

class Harness:
    """Cluster (primary + standby + slot) with the extension created, an engine, and checks."""

    def __init__(self, build_dir: str, seed: int = 0, keep: bool = False,
                 create_extension: bool = True, cluster_kwargs: dict | None = None,
                 engine_args=None):
        self.build_dir = os.path.abspath(build_dir)
        self.seed = seed
        self.keep = keep
        self.create_extension = create_extension
        self.cluster = Cluster(keep=keep, **(cluster_kwargs or {}))
        self.engine_binary = os.path.join(self.build_dir, "engine", "pgtrickle-engine")
        self.engine_args = engine_args
        self.engine: Engine | None = None
        self.engines: list[Engine] = []

    @classmethod
    def from_argv(cls, argv=None, **kw):
        a = parse_args(argv)
        log(f"seed={a.seed} (replay: PGT_SEED={a.seed} or --seed {a.seed})")
        return cls(a.build_dir, seed=a.seed, keep=a.keep, **kw)

    def __enter__(self):
        add_signal_hook(self._stop_engines_quietly)
        self.cluster.start()
        try:
            if self.create_extension:
                self.primary_sql("CREATE EXTENSION pg_trickle")
            self.engine = Engine(self.engine_binary, self.cluster,
                                 os.path.join(self.cluster.data_root, "engine-state"),
                                 os.path.join(self.cluster.log_dir, "engine.log"),
                                 self.engine_args)
            self.engines.append(self.engine)
        except BaseException:
            self.cluster.print_logs()
            self.cluster.stop()
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        failed = exc_type is not None and not issubclass(exc_type, (KeyboardInterrupt,
                                                                     SystemExit))
        try:
            for e in self.engines:
                if e.proc is not None and e.proc.poll() is not None and not failed:
                    failed = True
                    log(f"engine died during the test (rc={e.proc.returncode})")
                self._stop_engine_quietly(e)
        finally:
            if failed:
                log(f"FAILED (seed={self.seed}; replay with PGT_SEED={self.seed})")
                for e in self.engines:
                    e.print_log()
                self.cluster.print_logs()
            self.cluster.stop()
        if exc_type is None and failed:
            raise TestFailure("engine died during the test")
        return False

    @staticmethod
    def _stop_engine_quietly(e: Engine):
        try:
            e.stop(timeout=15, expect_rc=None)
        except Exception:  # noqa: BLE001
            e.kill()

    def _stop_engines_quietly(self):
        for e in self.engines:
            self._stop_engine_quietly(e)

    # ---- engine
    def start_engine(self, extra=None) -> Engine:
        return self.engine.start(extra)

    def stop_engine(self, **kw):
        return self.engine.stop(**kw)

    def kill_engine(self):
        self.engine.kill()

    def new_engine(self, state_dir_name: str, extra_args=None) -> Engine:
        """A second engine (e.g. fencing tests) with its own state dir and log."""
        e = Engine(self.engine_binary, self.cluster,
                   os.path.join(self.cluster.data_root, state_dir_name),
                   os.path.join(self.cluster.log_dir, f"{state_dir_name}.log"), extra_args)
        self.engines.append(e)
        return e

    # ---- SQL
    def primary_sql(self, sql, params=None):
        return self.cluster.primary_sql(sql, params)

    def standby_sql(self, sql, params=None):
        return self.cluster.standby_sql(sql, params)

    # ---- waiting
    def wait_for_frontier(self, stream_table: str, lsn: str, timeout: float = 60) -> str:
        """Wait until pgt_stream_tables.frontier >= lsn for `stream_table` (name as given to
        create_stream_table). Fails early if the status is ERROR or the engine died."""
        deadline = time.time() + timeout
        last = None
        while True:
            rows = self.primary_sql(
                "SELECT frontier >= %s::pg_lsn, frontier::text, status, last_error "
                "FROM pgtrickle.pgt_stream_tables WHERE name = %s", (lsn, stream_table))
            if not rows:
                raise TestFailure(f"no stream table named {stream_table!r} in the catalog")
            reached, frontier, status, err = rows[0]
            last = (frontier, status, err)
            if reached:
                return frontier
            if status == "ERROR":
                raise TestFailure(f"stream table {stream_table} is in ERROR: {err}")
            for e in self.engines:
                e.check_alive()
            if time.time() > deadline:
                raise TestFailure(f"frontier of {stream_table} did not reach {lsn} within "
                                  f"{timeout}s (frontier={frontier}, status={status}, "
                                  f"last_error={err})")
            time.sleep(0.1)

    def wait_all_frontiers(self, lsn: str | None = None, timeout: float = 60):
        lsn = lsn or self.cluster.primary_lsn()
        for (name,) in self.primary_sql("SELECT name FROM pgtrickle.pgt_stream_tables "
                                        "ORDER BY id"):
            self.wait_for_frontier(name, lsn, timeout)
        return lsn

    # ---- the oracle
    def stream_table_columns(self, name: str, which: str = "primary") -> list[str]:
        sql = ("SELECT quote_ident(attname) FROM pg_attribute WHERE attrelid = %s::regclass "
               "AND attnum > 0 AND NOT attisdropped AND attname <> '__pgt_row_id' "
               "ORDER BY attnum")
        rows = (self.primary_sql if which == "primary" else self.standby_sql)(sql, (name,))
        if not rows:
            raise TestFailure(f"stream table {name} has no user columns")
        return [r[0] for r in rows]

    def assert_stream_table_matches_query(self, name: str, query: str, which: str = "primary",
                                          max_rows: int = 20):
        """Two-way EXCEPT ALL over all user columns (not __pgt_row_id). Prints up to max_rows
        differing rows, marked '+' (in the stream table only) and '-' (in the query only)."""
        cols = self.stream_table_columns(name, which)
        collist = ", ".join(cols)
        diff_sql = (f"SELECT * FROM ("
                    f"(SELECT '+' AS __side, * FROM (SELECT {collist} FROM {name} "
                    f"EXCEPT ALL ({query})) a) "
                    f"UNION ALL "
                    f"(SELECT '-' AS __side, * FROM (({query}) EXCEPT ALL "
                    f"SELECT {collist} FROM {name}) b)) d")
        run = self.primary_sql if which == "primary" else self.standby_sql
        count = run(f"SELECT count(*) FROM ({diff_sql}) c")[0][0]
        if count == 0:
            n = run(f"SELECT count(*) FROM {name}")[0][0]
            log(f"{name} matches its query ({n} rows)")
            return
        order = ", ".join(str(i) for i in range(2, len(cols) + 2))
        rows = run(f"{diff_sql} ORDER BY {order}, 1 LIMIT {int(max_rows)}")
        lines = [f"stream table {name} differs from its query in {count} row(s) "
                 f"('+' only in the stream table, '-' only in the query):",
                 "   " + " | ".join(cols)]
        for r in rows:
            lines.append(f" {r[0]} " + " | ".join("NULL" if v is None else str(v)
                                                   for v in r[1:]))
        if count > max_rows:
            lines.append(f" ... and {count - max_rows} more")
        lines.append(f"query: {query}")
        msg = "\n".join(lines)
        print(msg, flush=True)
        raise TestFailure(msg)


# ================================================================== workload generator

SRC_DDL = """CREATE TABLE {t} (
    id     int PRIMARY KEY,
    grp    int,
    cat    text,
    amount numeric(12,2),
    qty    int,
    flag   bool,
    d      date,
    ts     timestamp
)"""

COLS = ["id", "grp", "cat", "amount", "qty", "flag", "d", "ts"]
CATS = ["a", "b", "c", "d", "", "x y", "quote'd", 'comma,"dq"', "ünï", "tab\there", "line\nbreak"]


class Workload:
    """Seeded random DML on src(id int pk, grp int, cat text, amount numeric(12,2), qty int,
    flag bool, d date, ts timestamp).

    Each transaction mixes INSERT (single/multi-row, upsert ON CONFLICT), UPDATE (incl. the group
    key and the primary key, to NULL too), DELETE, COPY (copy_expert, CSV with NULLs), SAVEPOINT
    with ROLLBACK TO / RELEASE, and ends in COMMIT (mostly) or ROLLBACK. All values come from
    `random.Random(seed)`, so a seed replays the same statements (single worker). A shadow set of
    committed ids lets it target existing rows and keeps COPY from conflicting.

    Several workers may run concurrently on one table if each gets a distinct `worker` index and
    the same `workers` count: they then own disjoint id classes (id % workers == worker).
    """

    def __init__(self, dsn: str, seed: int, table: str = "src", id_space: int = 2000,
                 worker: int = 0, workers: int = 1, groups: int = 10, toast_prob: float = 0.0,
                 verbose: bool = False):
        self.dsn = dsn
        self.seed = seed
        self.rng = random.Random(seed)
        self.table = table
        self.id_space = id_space
        self.worker = worker
        self.workers = workers
        self.groups = groups
        self.toast_prob = toast_prob
        self.verbose = verbose
        self.ids: set[int] = set()      # committed ids (this worker's class)
        self.stats = {k: 0 for k in ("commit", "rollback", "insert", "update", "delete", "copy",
                                     "savepoint", "rollback_to", "upsert", "pk_update")}
        self.conn = None

    # ---- setup
    def connect(self):
        if self.conn is None or self.conn.closed:
            self.conn = psycopg2.connect(self.dsn)
            self.conn.autocommit = False
        return self.conn

    def close(self):
        if self.conn is not None and not self.conn.closed:
            self.conn.close()

    def create_table(self, drop: bool = False):
        conn = self.connect()
        with conn.cursor() as cur:
            if drop:
                cur.execute(f"DROP TABLE IF EXISTS {self.table}")
            cur.execute(SRC_DDL.format(t=self.table))
        conn.commit()
        return self

    def load_ids(self):
        """Adopt the ids already in the table (e.g. a second Workload on an existing table)."""
        conn = self.connect()
        with conn.cursor() as cur:
            cur.execute(f"SELECT id FROM {self.table} WHERE id %% %s = %s",
                        (self.workers, self.worker))
            self.ids = {r[0] for r in cur.fetchall()}
        conn.commit()
        return self

    # ---- values
    def _new_id(self, taken: set[int]) -> int | None:
        for _ in range(50):
            k = self.rng.randrange(self.id_space // self.workers + 1)
            i = k * self.workers + self.worker
            if i not in taken:
                return i
        return None

    def _maybe_null(self, v, p=0.08):
        return None if self.rng.random() < p else v

    def _cat(self):
        if self.toast_prob and self.rng.random() < self.toast_prob:
            n = self.rng.choice([2500, 9000, 40000])
            return "".join(self.rng.choice("abcdefghijklmnopqrstuvwxyz0123456789")
                           for _ in range(n))
        return self._maybe_null(self.rng.choice(CATS))

    def _row(self, i: int) -> tuple:
        r = self.rng
        amount = decimal.Decimal(r.randrange(-10**6, 10**8)) / 100
        return (i,
                self._maybe_null(r.randrange(1, self.groups + 1)),
                self._cat(),
                self._maybe_null(amount),
                self._maybe_null(r.choice([0, 1, -1, r.randrange(-1000, 1000),
                                           2147483647, -2147483648])),
                self._maybe_null(r.random() < 0.5),
                self._maybe_null(dt.date(2000, 1, 1) + dt.timedelta(days=r.randrange(0, 20000))),
                self._maybe_null(dt.datetime(2020, 1, 1) + dt.timedelta(
                    seconds=r.randrange(0, 10**8), microseconds=r.randrange(0, 10**6))))

    # ---- statements (each updates `live`, the ids visible inside the transaction)
    def _insert(self, cur, live):
        n = self.rng.choice([1, 1, 1, 3, 10])
        rows = []
        for _ in range(n):
            i = self._new_id(live | {r[0] for r in rows})
            if i is not None:
                rows.append(self._row(i))
        if not rows:
            return
        ph = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s)"] * len(rows))
        cur.execute(f"INSERT INTO {self.table} VALUES {ph}", [v for r in rows for v in r])
        live.update(r[0] for r in rows)
        self.stats["insert"] += len(rows)

    def _upsert(self, cur, live):
        existing = sorted(live)
        i = self.rng.choice(existing) if existing and self.rng.random() < 0.7 else \
            self._new_id(live)
        if i is None:
            return
        row = self._row(i)
        cur.execute(f"INSERT INTO {self.table} VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
                    f"ON CONFLICT (id) DO UPDATE SET grp = EXCLUDED.grp, "
                    f"amount = EXCLUDED.amount, flag = NOT {self.table}.flag", row)
        live.add(i)
        self.stats["upsert"] += 1

    def _pick(self, live, k=1):
        if not live:
            return []
        return self.rng.sample(sorted(live), min(k, len(live)))

    def _update(self, cur, live):
        r = self.rng
        choice = r.random()
        if choice < 0.1:
            # by predicate on the group key (many rows), restricted to our id class
            g = r.randrange(1, self.groups + 1)
            cur.execute(f"UPDATE {self.table} SET amount = amount + 1, flag = NOT flag "
                        f"WHERE grp = %s AND id %% %s = %s RETURNING id",
                        (g, self.workers, self.worker))
            self.stats["update"] += cur.rowcount
            return
        if choice < 0.15:
            # primary key change
            ids = self._pick(live)
            new = self._new_id(live)
            if not ids or new is None:
                return
            cur.execute(f"UPDATE {self.table} SET id = %s WHERE id = %s", (new, ids[0]))
            live.discard(ids[0])
            live.add(new)
            self.stats["pk_update"] += 1
            return
        ids = self._pick(live, r.choice([1, 1, 2, 5]))
        if not ids:
            return
        sets, params = [], []
        full = self._row(0)
        for ci, c in enumerate(COLS[1:], start=1):
            if r.random() < (0.5 if c == "grp" else 0.3):
                sets.append(f"{c} = %s")
                params.append(full[ci])
        if not sets:
            sets.append("grp = %s")
            params.append(full[1])
        cur.execute(f"UPDATE {self.table} SET {', '.join(sets)} WHERE id = ANY(%s)",
                    params + [ids])
        self.stats["update"] += cur.rowcount

    def _delete(self, cur, live):
        if self.rng.random() < 0.1:
            lo = self.rng.randrange(self.id_space)
            cur.execute(f"DELETE FROM {self.table} WHERE id BETWEEN %s AND %s "
                        f"AND id %% %s = %s RETURNING id", (lo, lo + 20, self.workers,
                                                            self.worker))
            gone = {x[0] for x in cur.fetchall()}
        else:
            gone = set(self._pick(live, self.rng.choice([1, 1, 3, 10])))
            if not gone:
                return
            cur.execute(f"DELETE FROM {self.table} WHERE id = ANY(%s)", (sorted(gone),))
        live.difference_update(gone)
        self.stats["delete"] += len(gone)

    def _copy(self, cur, live):
        n = self.rng.choice([3, 10, 40])
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        added = set()
        for _ in range(n):
            i = self._new_id(live | added)
            if i is None:
                continue
            added.add(i)
            w.writerow(["\\N" if v is None else
                        ("t" if v is True else "f" if v is False else v)
                        for v in self._row(i)])
        if not added:
            return
        buf.seek(0)
        cur.copy_expert(f"COPY {self.table} ({', '.join(COLS)}) FROM STDIN "
                        f"WITH (FORMAT csv, NULL '\\N')", buf)
        live.update(added)
        self.stats["copy"] += len(added)

    def _statement(self, cur, live):
        x = self.rng.random()
        # Keep the table around half full of its id space: the fuller, the more inserts and
        # COPYs turn into deletes.
        fill = len(live) * self.workers / max(1, self.id_space)
        if (x < 0.28 or x >= 0.86) and self.rng.random() < fill:
            self._delete(cur, live)
            return
        if x < 0.28:
            self._insert(cur, live)
        elif x < 0.53:
            self._update(cur, live)
        elif x < 0.76:
            self._delete(cur, live)
        elif x < 0.86:
            self._upsert(cur, live)
        else:
            self._copy(cur, live)

    def transaction(self):
        conn = self.connect()
        live = set(self.ids)
        with conn.cursor() as cur:
            for k in range(self.rng.choice([1, 1, 2, 3, 5, 8])):
                if self.rng.random() < 0.15:
                    name = f"sp{k}"
                    cur.execute(f"SAVEPOINT {name}")
                    saved = set(live)
                    self.stats["savepoint"] += 1
                    for _ in range(self.rng.choice([1, 2, 3])):
                        self._statement(cur, live)
                    if self.rng.random() < 0.5:
                        cur.execute(f"ROLLBACK TO SAVEPOINT {name}")
                        live = saved
                        self.stats["rollback_to"] += 1
                    else:
                        cur.execute(f"RELEASE SAVEPOINT {name}")
                else:
                    self._statement(cur, live)
        if self.rng.random() < 0.1:
            conn.rollback()
            self.stats["rollback"] += 1
        else:
            conn.commit()
            self.ids = live
            self.stats["commit"] += 1

    def run(self, n_transactions: int, sleep: float = 0.0, deadline: float | None = None):
        """Run n transactions (stop early at `deadline`, a time.time() value)."""
        try:
            for _ in range(n_transactions):
                if deadline is not None and time.time() > deadline:
                    break
                self.transaction()
                if sleep:
                    time.sleep(sleep)
        except Exception:
            log(f"workload failed (table={self.table} seed={self.seed} worker={self.worker})")
            raise
        return self.stats


def run_concurrent(dsn: str, seed: int, n_workers: int, n_transactions: int, table="src",
                   **kw) -> list[Workload]:
    """n_workers threads, each its own connection and id class, seeds seed+worker."""
    wls = [Workload(dsn, seed + w, table=table, worker=w, workers=n_workers, **kw).load_ids()
           for w in range(n_workers)]
    errors = []

    def go(wl):
        try:
            wl.run(n_transactions)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    ts = [threading.Thread(target=go, args=(wl,)) for wl in wls]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for wl in wls:
        wl.close()
    if errors:
        raise errors[0]
    return wls


def kill_engine_under_load(h, rng, load_step, kills: int, pause=(0.3, 2.5)):
    """SIGKILL the engine `kills` times at random points (`pause` seconds apart) while a thread
    calls `load_step()` over and over, restarting the engine each time. An exception of the load
    is raised here after the kills."""
    stop = threading.Event()
    errors = []

    def load():
        try:
            while not stop.is_set():
                load_step()
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    t = threading.Thread(target=load)
    t.start()
    try:
        for k in range(kills):
            time.sleep(rng.uniform(*pause))
            h.kill_engine()
            log(f"kill -9 #{k + 1}")
            time.sleep(rng.uniform(0.0, 0.5))
            h.start_engine()
    finally:
        stop.set()
        t.join()
    if errors:
        raise errors[0]


def engine_events(log_path, name, since=0):
    """The engine's JSON log events named `name`, from byte offset `since` of its log."""
    out = []
    with open(log_path, errors="replace") as f:
        f.seek(since)
        for line in f:
            if '"event"' not in line:
                continue
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if e.get("event") == name:
                out.append(e)
    return out


def wait_until(what, fn, h, timeout=120, period=0.2):
    """Polls fn() until it is true; the engine must stay alive meanwhile; fails naming `what`."""
    deadline = time.time() + timeout
    while not fn():
        h.engine.check_alive()
        if time.time() > deadline:
            raise TestFailure(f"timed out waiting for {what}")
        time.sleep(period)

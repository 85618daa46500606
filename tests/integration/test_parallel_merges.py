"""pg_trickle.max_parallel_workers (issue 12): at most that many merges run at once, critical
SLA tier first. Four stream tables; a test transaction holds SHARE locks on their storage tables
so that merges block inside their primary transaction; the number of engine connections waiting
on those locks is the number of merges running at once. It must reach, and never exceed, the
setting (2, then 4 after a reload); with 1, the one merge that runs first is the critical table's.
The oracle holds after each release.
"""
import threading
import time

from common import Harness, TestFailure, Workload, log
import streams

TABLES = [(f"public.st_par_{k}", f"SELECT id, grp, amount, qty FROM src WHERE qty > {-1000 - k} OR qty IS NULL")
          for k in range(4)]
CRITICAL = TABLES[3][0]


def set_workers(h, n):
    conn = h.cluster.connect("primary")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("ALTER SYSTEM SET pg_trickle.max_parallel_workers = %s", (str(n),))
        cur.execute("SELECT pg_reload_conf()")
    conn.close()
    deadline = time.time() + 20
    while f"pg_trickle.max_parallel_workers = {n}" not in open(h.engine.log_path, errors="replace").read():
        if time.time() > deadline:
            raise TestFailure(f"the engine did not pick up max_parallel_workers = {n}")
        time.sleep(0.1)


def blocked_merges(h, wl, expected):
    oids = [h.primary_sql("SELECT %s::regclass::oid", (name,))[0][0] for name, _ in TABLES]
    locker = h.cluster.connect("primary")
    with locker.cursor() as cur:
        cur.execute("LOCK TABLE " + ", ".join(n for n, _ in TABLES) + " IN SHARE MODE")
    wl.run(30)
    peak, first_waiters = 0, None
    deadline = time.time() + 6
    while time.time() < deadline:
        rows = h.primary_sql("SELECT DISTINCT l.pid, l.relation::regclass::text FROM pg_locks l "
                             "WHERE NOT l.granted AND l.relation = ANY (%s)", (oids,))
        if rows and first_waiters is None:
            first_waiters = sorted(r[1] for r in rows)
        peak = max(peak, len({r[0] for r in rows}))
        time.sleep(0.05)
    locker.rollback()
    locker.close()
    if peak != expected:
        raise TestFailure(f"{peak} merges ran at once, expected {expected} (max_parallel_workers)")
    log(f"max_parallel_workers = {expected}: {peak} merges at once, first waiting: {first_waiters}")
    streams.check_all(h, TABLES)
    return first_waiters


def main():
    with Harness.from_argv(cluster_kwargs={"extra_conf": {"pg_trickle.max_parallel_workers": "2"}}) as h:
        wl = Workload(h.cluster.primary_dsn, seed=h.seed)
        wl.create_table()
        wl.run(40)
        for name, query in TABLES:
            streams.create(h, name, query)
        h.primary_sql("SELECT pgtrickle.alter_stream_table(%s, sla_tier => 'critical')", (CRITICAL,))
        h.start_engine()
        streams.check_all(h, TABLES)
        blocked_merges(h, wl, 2)
        set_workers(h, 4)
        blocked_merges(h, wl, 4)
        set_workers(h, 1)
        first = blocked_merges(h, wl, 1)
        if first != [CRITICAL.split(".")[1]] and first != [CRITICAL]:
            raise TestFailure(f"with one worker the first merge was {first}, not the critical {CRITICAL}")
        log("PASS test_parallel_merges")


if __name__ == "__main__":
    main()

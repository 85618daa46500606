"""pg_trickle.max_parallel_workers (issue 12): at most that many merges run at once, critical
SLA tier first. Four stream tables; one test transaction per storage table holds a SHARE lock on
it so that merges block inside their primary transaction; the number of engine connections
waiting on those locks is the number of merges running at once. It must reach, and never exceed,
the setting (2, then 4 after a reload). With 1: merges start as slots free up (no waves), so the
first merge may be any table's; once every table is due and the one slot is held, releasing the
blocked merge must hand the slot to the critical table next (unless the critical one was first).
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


def waiters(h, oids):
    return h.primary_sql("SELECT DISTINCT l.pid, l.relation::regclass::text FROM pg_locks l "
                         "WHERE NOT l.granted AND l.relation = ANY (%s)", (oids,))


def blocked_merges(h, wl, expected, critical_next=False):
    oids = [h.primary_sql("SELECT %s::regclass::oid", (name,))[0][0] for name, _ in TABLES]
    lockers = {}
    for name, _ in TABLES:
        c = h.cluster.connect("primary")
        with c.cursor() as cur:
            cur.execute("LOCK TABLE " + name + " IN SHARE MODE")
        lockers[name.split(".")[1]] = c
    wl.run(30)
    peak, first_waiters = 0, None
    deadline = time.time() + 6
    while time.time() < deadline:
        rows = waiters(h, oids)
        if rows and first_waiters is None:
            first_waiters = sorted(r[1] for r in rows)
        peak = max(peak, len({r[0] for r in rows}))
        time.sleep(0.05)
    next_waiter = None
    if critical_next and first_waiters and first_waiters != [CRITICAL.split(".")[1]]:
        # Every table is due by now (6 s >> 200 ms schedules) and waits for the one slot: release
        # the blocked merge; the next one to take the slot must be the critical table's.
        lockers.pop(first_waiters[0]).rollback()
        deadline = time.time() + 20
        while time.time() < deadline and next_waiter is None:
            rows = [r for r in waiters(h, oids) if r[1] != first_waiters[0]]
            if rows:
                next_waiter = sorted(r[1] for r in rows)
            peak = max(peak, len({r[0] for r in rows}))
            time.sleep(0.02)
    for c in lockers.values():
        c.rollback()
        c.close()
    if peak != expected:
        raise TestFailure(f"{peak} merges ran at once, expected {expected} (max_parallel_workers)")
    log(f"max_parallel_workers = {expected}: {peak} merges at once, first waiting: {first_waiters}, "
        f"next: {next_waiter}")
    streams.check_all(h, TABLES)
    return first_waiters, next_waiter


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
        first, after = blocked_merges(h, wl, 1, critical_next=True)
        crit = [CRITICAL.split(".")[1]]
        if first != crit and after != crit:
            raise TestFailure(f"with one worker the merge started after {first} was {after}, not the critical "
                              f"{CRITICAL} (all were due)")
        log("PASS test_parallel_merges")


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Failover drills (issue 8): a local PostgreSQL 15 primary + two hot standbys + a barman-layout
zstd WAL archive (tests/harness/ha.py), the stream tables of deploy/drills/drills.sql (every
shape the engine supports), a pgbench-like write load (load.py) running through each drill,
and the engine on multi-host conninfos. Each drill ends with the oracle on the (new) primary —
every stream table equals its query, two-way EXCEPT ALL over all columns — after every frontier
has passed a probe row inserted on that primary after the event, and reports:

  reattach_s     seconds from "the new primary accepts writes" (drill 5: the engine restart) to
                 the first merge past the probe (all_tables_s: to the last table's)
  resnapshots    engine log lines "re-snapshot of" (and "bootstrap of … from a standby snapshot")
                 after the event; rebuilds from the engine's own source mirrors are reported apart;
                 must be 0
  wal bytes      read from the archive / from the stream (engine /metrics if it serves them,
                 else its log; "n/a" when the engine reports neither)

  1 switchover to the standby the engine does not read; the engine's standby re-pointed (reload)
  2 switchover to the engine's own standby (engine on target_session_attrs=prefer-standby,
    WAL from --restore-command)
  3 kill -9 of the primary's postmaster under load; the most advanced standby promoted, the
    other re-pointed (or rewound if it is ahead of the switch point), the old primary rewound
  4 async divergence: a standby's WAL receiver is stopped while the engine (reading the other
    standby) merges past it; the primary is killed and the lagging standby promoted; the
    engine's standby is rewound (pg_rewind) or re-cloned (pg_basebackup), chosen by the seed.
    The engine had merged past the switch point: it must rewind, never merge lost state.
  5 slot lost: engine stopped, its slot dropped, the WAL it needs recycled on every node;
    engine restarted → catches up from the archive (--restore-command), no re-snapshot
  6 kill -9 of the engine at 1–3 random points in one of drills 1–4 (seeded)
  7 the old primary started again read-write on its old port after a failover (and the
    engine's connections to the real primary cut, so it re-resolves its roles): its catalog
    (frontiers, epoch, heartbeat, stream table contents) must not change, the engine must log
    "refusing to write to stale primary", and the real primary keeps being maintained.

Run: python3 drills.py --build-dir BUILD --drill N [--engine PATH] [--seed S] [--keep]
(PGT_ENGINE_BIN, PGT_SEED, PGT_PG_BIN are honoured.) A report (JSON + markdown) of every drill
run so far goes to BUILD/failover-drills/ (--report-dir).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import sys
import threading
import time
import traceback
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "harness"))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
sys.path.insert(0, HERE)

from ha import HACluster, ClusterError, walfile_name, lsn_int  # noqa: E402
from cluster import add_signal_hook  # noqa: E402
from common import Engine, TestFailure  # noqa: E402
from load import WriteLoad  # noqa: E402

DRILL_SQL = os.path.join(REPO, "deploy", "drills", "drills.sql")
SLOT = "pgtrickle_engine"
# Re-snapshots fail a drill. PGT_DRILL_ALLOW_RESNAPSHOT=lost-merge accepts (and reports) the
# ones the engine makes when the new primary lacks its last merge (lost with asynchronous
# replication in an unplanned failover) — for an engine that cannot yet re-merge from a state
# checkpoint in that case; divergence re-snapshots are never accepted.
ALLOW_LOST_MERGE_RESNAPSHOT = os.environ.get("PGT_DRILL_ALLOW_RESNAPSHOT", "") == "lost-merge"
BUDGET_S = int(os.environ.get("PGT_DRILL_BUDGET_S", "500"))   # < CTest's TIMEOUT (600)
NAMES = {1: "switchover-other-standby", 2: "switchover-engine-standby",
         3: "kill9-primary-under-load", 4: "async-divergence", 5: "slot-lost-archive-catchup",
         6: "kill9-engine-mid-drill", 7: "stale-primary-back"}
# Points where drill 6 may kill the engine, per base drill.
KILL_POINTS = {
    1: ["before-event", "primary-stopped", "promoted", "standby-repointed", "old-primary-back"],
    2: ["before-event", "primary-stopped", "promoted", "standby-repointed", "old-primary-back"],
    3: ["before-event", "primary-killed", "promoted", "standby-repointed", "old-primary-back"],
    4: ["lagging", "primary-killed", "promoted", "engine-standby-back", "old-primary-back"],
}


def log(msg: str) -> None:
    print(f"[drill {time.strftime('%H:%M:%S')}] {msg}", flush=True)


class DrillFailure(AssertionError):
    pass


class EngineTarget:
    """What common.Engine reads: primary_dsn, standby_dsn, slot (multi-host conninfos here)."""

    def __init__(self, primary_dsn: str, standby_dsn: str, slot: str):
        self.primary_dsn = primary_dsn
        self.standby_dsn = standby_dsn
        self.slot = slot


class FrontierWatch(threading.Thread):
    """Polls a primary until every stream table's frontier has passed `lsn`; records when the
    first and the last table got there."""

    def __init__(self, drill: "Drill", node, lsn: str):
        super().__init__(daemon=True)
        self.drill, self.node, self.lsn = drill, node, lsn
        self.t_first: float | None = None
        self.t_all: float | None = None
        self.last: list = []
        self.error: str | None = None
        self._halt = threading.Event()

    def run(self):
        n = len(self.drill.shapes)
        while not self._halt.is_set():
            try:
                rows = self.drill.ha.sql(self.node, "SELECT name, frontier::text, status, "
                                         "last_error FROM pgt_drill.lagging(%s)", (self.lsn,))
                self.last = rows
                if len(rows) < n and self.t_first is None:
                    self.t_first = time.time()
                if not rows:
                    self.t_all = time.time()
                    return
                errs = [r for r in rows if r[2] == "ERROR"]
                if errs:
                    self.error = f"stream table(s) in ERROR: {errs}"
                    return
            except Exception as e:  # noqa: BLE001 - the node may be restarting
                self.last = [("(query failed)", str(e).strip()[:200], None, None)]
            self._halt.wait(0.1)

    def stop(self):
        self._halt.set()


class Drill:
    def __init__(self, a):
        self.number = a.drill
        self.seed = a.seed
        self.rng = random.Random(a.seed * 10 + a.drill)
        self.build_dir = os.path.abspath(a.build_dir)
        self.engine_bin = os.path.abspath(a.engine or os.environ.get("PGT_ENGINE_BIN") or
                                          os.path.join(self.build_dir, "engine",
                                                       "pgtrickle-engine"))
        self.report_dir = os.path.abspath(a.report_dir or os.path.join(self.build_dir,
                                                                       "failover-drills"))
        self.keep = a.keep
        self.ha: HACluster | None = None
        self.engine: Engine | None = None
        self.load: WriteLoad | None = None
        self.shapes: list[tuple[str, str]] = []
        self.load_nodes = None          # nodes the load's -rw conninfo lists (None: all)
        self.kill_points: set[str] = set()
        self.kills: list[str] = []
        self.timers: list[threading.Timer] = []
        self.killing = threading.Event()     # drill 6: the engine is down on purpose
        self.base = self.number
        self.event_mark: int | None = None      # engine log offset at the event
        self.report: dict = {"drill": self.number, "name": NAMES[self.number], "seed": self.seed,
                             "engine": self.engine_bin, "result": "FAIL", "notes": []}

    # ------------------------------------------------------------ setup
    def setup(self, engine_standby: str = "node2", standby_attrs: str = "standby",
              wal_source: str = "archive"):
        add_signal_hook(self._kill_quietly)     # SIGINT/SIGTERM: engine first, then servers
        self.ha = HACluster(keep=self.keep).start()
        ha = self.ha
        ha.sql(ha.primary, "CREATE EXTENSION pg_trickle")
        with open(DRILL_SQL) as f:
            ha.sql(ha.primary, f.read())
        ha.sql(ha.primary, "SELECT pgt_drill.seed_sources(2000, %s)",
               (self.rng.uniform(-1, 1),))
        self.shapes = [(n, q) for n, q in ha.sql(ha.primary, "SELECT name, query FROM "
                                                 "pgt_drill.shapes ORDER BY ord")]
        ha.sql(ha.primary, "SELECT pgt_drill.create_stream_tables('300 milliseconds')")
        es = ha.node(engine_standby)
        order = [es] + [n for n in ha.nodes if n is not es and n is not ha.primary] + [ha.primary]
        primary_dsn = ha.multi_host(ha.nodes, target_session_attrs="read-write",
                                    connect_timeout=3)
        standby_dsn = ha.multi_host(order, target_session_attrs=standby_attrs,
                                    connect_timeout=3)
        if wal_source == "archive":
            extra = ["--archive", ha.archive_dir]
        else:
            extra = ["--restore-command", f"{ha.archive_script} fetch %f %p"]
        # Checkpoints for the divergence rewind every few seconds (default 60 s: longer than a
        # whole drill, whose time is compressed), so one exists at or before any switch point.
        # (--checkpoint-keep 10: 30 s of them, longer than any drill's lag phase.)
        extra += ["--checkpoint-interval-s", "3", "--checkpoint-keep", "10"]
        self.report["wal_source_flag"] = extra[0]
        self.report["engine_standby"] = f"{engine_standby} ({standby_attrs})"
        self.engine = Engine(self.engine_bin, EngineTarget(primary_dsn, standby_dsn, SLOT),
                             os.path.join(ha.data_root, "engine-state"),
                             os.path.join(ha.log_dir, "engine.log"), extra)
        self.load = WriteLoad(self.load_dsn, seed=self.seed, clients=3, pause=0.03,
                              log=log)
        log(f"engine: {' '.join(self.engine.argv())}")

    def _kill_quietly(self):
        try:
            if self.load is not None:
                self.load._stop.set()
            if self.engine is not None:
                self.engine.kill()
        except Exception:  # noqa: BLE001
            pass

    def load_dsn(self) -> str:
        return self.ha.multi_host(self.load_nodes or self.ha.nodes,
                                  target_session_attrs="read-write")

    # ------------------------------------------------------------ helpers
    def probe(self, node, tag: str) -> str:
        self.ha.sql(node, "SELECT pgt_drill.probe(%s)", (tag,))
        lsn = self.ha.sql(node, "SELECT pg_current_wal_lsn()::text")[0][0]
        log(f"probe '{tag}' on {node.name} at {lsn}")
        return lsn

    def engine_alive(self):
        if self.killing.is_set():
            return
        if self.engine.proc is not None and self.engine.proc.poll() is not None:
            rc = self.engine.proc.returncode
            raise DrillFailure(f"the engine exited with rc={rc} (see its log below)")

    def wait_past(self, node, lsn: str, timeout: float, what: str) -> FrontierWatch:
        w = FrontierWatch(self, node, lsn)
        w.start()
        return self.join_watch(w, timeout, what)

    def join_watch(self, w: FrontierWatch, timeout: float, what: str) -> FrontierWatch:
        deadline = time.time() + timeout
        while w.is_alive() and time.time() < deadline:
            self.engine_alive()
            w.join(0.2)
        w.stop()
        if w.error:
            raise DrillFailure(f"{what}: {w.error}")
        if w.t_all is None:
            raise DrillFailure(f"{what}: frontiers did not pass {w.lsn} on {w.node.name} within "
                               f"{timeout:.0f}s; lagging: {w.last}")
        return w

    def point(self, name: str):
        """A named moment of the drill: drill 6 kills the engine here (after a random delay,
        from a timer thread, so the kill may land in the middle of the next operation)."""
        log(f"-- {name}")
        if name not in self.kill_points:
            return
        delay = self.rng.uniform(0.0, 1.5)
        down = self.rng.uniform(0.2, 2.0)

        def kill():
            self.killing.set()
            try:
                if self.engine.running():
                    self.engine.kill()
                    self.kills.append(f"{name}+{delay:.2f}s (down {down:.2f}s)")
                    log(f"kill -9 of the engine at {name}+{delay:.2f}s; restart in {down:.2f}s")
                    time.sleep(down)
                    self.engine.start()
            finally:
                self.killing.clear()

        t = threading.Timer(delay, kill)
        t.daemon = True
        self.timers.append(t)
        t.start()

    def wait_timers(self):
        for t in self.timers:
            t.join(30)

    def log_mark(self) -> int:
        try:
            return os.path.getsize(self.engine.log_path)
        except OSError:
            return 0

    def log_text(self, since: int = 0) -> str:
        try:
            with open(self.engine.log_path, errors="replace") as f:
                f.seek(since)
                return f.read()
        except OSError:
            return ""

    def catch_up_initial(self):
        """Every stream table bootstrapped and merged past a probe; the load is writing."""
        self.load.wait_commits(30, timeout=120)
        lsn = self.probe(self.ha.primary, "initial")
        self.wait_past(self.ha.primary, lsn, 240, "initial catch-up")
        log("initial catch-up done")

    # ------------------------------------------------------------ events
    def shutdown_checkpoint(self, node) -> str | None:
        import subprocess
        out = subprocess.run([os.path.join(os.environ.get("PGT_PG_BIN",
                                                          "/usr/lib/postgresql/15/bin"),
                                           "pg_controldata"), node.datadir],
                             text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"}).stdout
        m = re.search(r"Latest checkpoint location:\s+(\S+)", out)
        return m.group(1) if m else None

    def switchover(self, target_name: str):
        """kubectl cnpg promote: checkpoint, clean stop of the primary, the target catches up
        to its shutdown checkpoint and is promoted, the other standby is re-pointed (reload),
        the old primary comes back as a standby (pg_rewind)."""
        ha = self.ha
        old, target = ha.primary, ha.node(target_name)
        other = next(n for n in ha.nodes if n is not old and n is not target)
        self.point("before-event")
        ha.sql(old, "CHECKPOINT")
        ha.stop_node(old, "fast")
        ckpt = self.shutdown_checkpoint(old)
        self.point("primary-stopped")
        if ckpt:
            try:
                ha.wait_replayed(target, ckpt, 60)
            except ClusterError as e:
                self.report["notes"].append(f"target not at the shutdown checkpoint: {e}")
        tli, t_w = ha.promote(target)
        return self.after_promotion(old, target, other, tli, t_w, old_clean=True)

    def after_promotion(self, old, new, other, tli, t_w, old_clean):
        ha = self.ha
        self.report["t_writable"] = t_w
        probe = self.probe(new, "after-event")
        watch = FrontierWatch(self, new, probe)
        watch.start()
        sp = ha.switch_point(new, tli)
        self.report.update(new_primary=new.name, timeline=tli, switch_point=sp)
        log(f"{new.name} is the primary on timeline {tli}, switch point {sp}")
        self.point("promoted")
        if other is not None and other.running():
            ahead = lsn_int(ha.receive_lsn(other)) > lsn_int(sp)
            if ahead:
                self.report["notes"].append(f"{other.name} was past the switch point: rewound")
                ha.rewind(other, new)
            else:
                ha.repoint(other, new)
        self.point("standby-repointed")
        ha.rewind(old, new)
        self.report["notes"].append(f"old primary {old.name} rewound as a standby of {new.name}")
        self.point("old-primary-back")
        return watch

    def failover(self, choose: str = "most-advanced"):
        """Unplanned: kill -9 of the primary's postmaster under load; the most advanced standby
        (CNPG's choice) is promoted."""
        ha = self.ha
        old = ha.primary
        self.point("before-event")
        ha.kill9(old)
        self.point("primary-killed")
        cands = ha.standbys()
        time.sleep(0.5)   # let the WAL receivers write what they got
        lsns = {n.name: lsn_int(ha.receive_lsn(n)) for n in cands}
        best = max(lsns.values())
        tops = [n for n in cands if lsns[n.name] == best]
        new = self.rng.choice(tops)
        other = next(n for n in cands if n is not new)
        self.report["notes"].append(
            "receive LSNs at the kill: " + ", ".join(f"{k} {v:X}" for k, v in lsns.items()))
        tli, t_w = ha.promote(new)
        return self.after_promotion(old, new, other, tli, t_w, old_clean=False)

    def divergence(self):
        ha = self.ha
        old = ha.primary
        eng_standby, lagger = ha.node("node2"), ha.node("node3")
        # Two checkpoint intervals of normal running first: the engine then holds a state
        # checkpoint from before the lag (it can rewind without re-snapshotting).
        time.sleep(7)
        ha.stop_wal_receiver(lagger)
        frozen = ha.receive_lsn(lagger)
        self.point("lagging")
        self.load.wait_commits(60, timeout=120)
        time.sleep(self.rng.uniform(1.0, 3.0))
        target = self.probe(old, "merged-past-the-lagging-standby")
        self.wait_past(old, target, 120, "engine merging while the standby lags")
        frontiers = ha.sql(old, "SELECT min(frontier)::text, max(frontier)::text FROM "
                                "pgtrickle.pgt_stream_tables")[0]
        ha.kill9(old)
        self.point("primary-killed")
        tli, t_w = ha.promote(lagger)
        sp = ha.switch_point(lagger, tli)
        self.report["divergence"] = {"lagging_standby_froze_at": frozen, "switch_point": sp,
                                     "frontiers_merged_before_kill": frontiers}
        if lsn_int(frontiers[0]) <= lsn_int(sp):
            raise DrillFailure(f"drill setup: the engine had not merged past the switch point "
                               f"{sp} (frontiers {frontiers}): no divergence to test")
        log(f"divergence: engine merged up to {frontiers[0]}..{frontiers[1]} on {old.name}; "
            f"{lagger.name} promoted at {sp}")
        # The new primary: no more lagging settings.
        ha.sql(lagger, "ALTER SYSTEM RESET primary_conninfo")
        ha.sql(lagger, "ALTER SYSTEM RESET restore_command")
        ha.sql(lagger, "SELECT pg_reload_conf()")
        self.report["t_writable"] = t_w
        probe = self.probe(lagger, "after-event")
        watch = FrontierWatch(self, lagger, probe)
        watch.start()
        self.report.update(new_primary=lagger.name, timeline=tli, switch_point=sp)
        self.point("promoted")
        how = self.rng.choice(["rewind", "re-clone"])
        # Until it is rewound or re-cloned, the engine's standby still serves timeline 1 past
        # the switch point (WAL the new primary never had): the engine must wait there without
        # recording any of it as applied. The seed chooses how long that lasts.
        hold = round(self.rng.uniform(0.0, 5.0), 1)
        self.report["notes"].append(f"engine's standby {eng_standby.name} "
                                    + ("rewound" if how == "rewind" else "re-cloned")
                                    + f" after {hold} s on the abandoned timeline")
        time.sleep(hold)
        log(f"the engine's standby {eng_standby.name} is ahead of the switch point: {how}")
        if how == "rewind":
            ha.rewind(eng_standby, lagger)
        else:
            ha.clone(eng_standby, lagger)
        self.point("engine-standby-back")
        ha.rewind(old, lagger)
        self.point("old-primary-back")
        return watch

    def slot_lost(self):
        ha = self.ha
        es = ha.node("node2")
        slot = ha.sql(es, "SELECT restart_lsn::text FROM pg_replication_slots "
                          "WHERE slot_name = %s", (SLOT,))
        frontier = ha.sql(ha.primary, "SELECT min(frontier)::text FROM "
                                      "pgtrickle.pgt_stream_tables")[0][0]
        self.engine.stop(timeout=60, expect_rc=None)
        log("engine stopped")
        for n in ha.nodes:
            ha.sql(n, "ALTER SYSTEM SET wal_keep_size = 0")
            ha.sql(n, "SELECT pg_reload_conf()")
        for n in ha.standbys():
            if ha.sql(n, "SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", (SLOT,)):
                ha.sql(n, "SELECT pg_drop_replication_slot(%s)", (SLOT,))
                log(f"slot {SLOT} dropped on {n.name}")
        need = min([lsn_int(x) for x in [frontier] + [r[0] for r in slot if r[0]]])
        need_lsn = f"{need >> 32:X}/{need & 0xFFFFFFFF:X}"
        # A few seconds of load the engine does not see: WAL it must fetch from the archive.
        self.load.wait_commits(400, timeout=120)
        stop_lsn = ha.current_lsn()
        first, last = walfile_name(1, need_lsn), walfile_name(1, stop_lsn)
        segs = []
        seg = int(first[8:16], 16) * 0x100 + int(first[16:], 16)
        end = int(last[8:16], 16) * 0x100 + int(last[16:], 16)
        while seg <= end:
            segs.append(f"{1:08X}{seg // 0x100:08X}{seg % 0x100:08X}")
            seg += 1
        rounds = ha.force_wal_recycling(segs, ha.nodes)
        missing = [s for s in segs if not ha.archived(s)]
        if missing:
            raise DrillFailure(f"drill setup: segments recycled but not archived: {missing}")
        self.report["slot_lost"] = {"engine_needs_from": need_lsn, "segments_recycled":
                                    [segs[0], segs[-1]], "recycle_rounds": rounds}
        log(f"WAL {segs[0]}..{segs[-1]} recycled on every node ({rounds} rounds); "
            f"only the archive has it")
        probe = self.probe(ha.primary, "after-event")
        self.report["t_writable"] = time.time()   # here: the engine restart
        self.report["new_primary"] = ha.primary.name
        self.engine.start()
        watch = FrontierWatch(self, ha.primary, probe)
        watch.start()
        return watch

    def stale_primary(self):
        """Drill 7: failover, then the old primary is started again read-write."""
        ha = self.ha
        old = ha.primary
        watch = self.failover_keep_old_down(old)
        new = ha.primary
        self.join_watch(watch, 180, "re-attach after the failover")
        self.report["reattach_s"] = round(watch.t_first - self.report["t_writable"], 2)
        self.report["all_tables_s"] = round(watch.t_all - self.report["t_writable"], 2)
        # The old primary's catalog as the failover left it (socket only: nobody can reach it).
        ha.start_node(old, "-c listen_addresses='' -c archive_mode=off")
        import psycopg2
        c = psycopg2.connect(host=ha.sock_dir, port=old.port, user="postgres",
                             dbname="postgres")
        c.autocommit = True
        with c.cursor() as cur:
            cur.execute("SELECT pgt_drill.catalog_fingerprint()")
            before = cur.fetchone()[0]
            cur.execute("SELECT pg_is_in_recovery()")
            assert not cur.fetchone()[0]
        c.close()
        ha.stop_node(old, "fast")
        stale_archive = os.path.join(ha.data_root, "stale-archive")
        os.makedirs(stale_archive, exist_ok=True)
        os.chmod(stale_archive, 0o777)
        ha.start_node(old, f"-c archive_command='cp %p {stale_archive}/%f'")
        if ha.in_recovery(old):
            raise DrillFailure(f"drill setup: {old.name} came back in recovery")
        log(f"{old.name} is back READ-WRITE on its old port {old.port} (stale primary, "
            f"timeline {ha.timeline(old)})")
        mark = self.log_mark()
        # Make the engine re-resolve its roles now that two servers accept writes: cut its
        # connections to the real primary, and restart it once (a pod restart).
        failures = []
        n = ha.sql(new, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
                        "backend_type = 'client backend' AND pid <> pg_backend_pid()")[0][0]
        log(f"{n} connections to {new.name} terminated")
        try:
            self.load.wait_commits(50, timeout=120)
            p = self.probe(new, "real-primary-maintained-1")
            self.wait_past(new, p, 90, "real primary maintained while the stale one is up")
            self.engine.stop(timeout=60, expect_rc=None)
            self.engine.start()
            self.load.wait_commits(50, timeout=120)
            p = self.probe(new, "real-primary-maintained-2")
            self.wait_past(new, p, 90, "real primary maintained after an engine restart")
        except DrillFailure as e:
            failures.append(str(e))
        deadline = time.time() + 30
        refusals = []
        while time.time() < deadline and not refusals:
            refusals = [ln for ln in self.log_text(mark).splitlines()
                        if "refusing to write to stale primary" in ln]
            time.sleep(0.5)
        after = ha.sql(old, "SELECT pgt_drill.catalog_fingerprint()")[0][0]
        self.report["stale_primary"] = {"node": old.name, "port": old.port,
                                        "refusal_lines": len(refusals),
                                        "refusal_example": refusals[0][:300] if refusals else None,
                                        "catalog_unchanged": before == after}
        if before != after:
            changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
            failures.append(f"a merge or heartbeat landed on the stale primary {old.name} "
                            f"({', '.join(changed)} changed):\n"
                            f"before: {json.dumps(before, sort_keys=True)}\n"
                            f"after:  {json.dumps(after, sort_keys=True)}")
        if not refusals:
            failures.append("the engine log has no 'refusing to write to stale primary' line "
                            f"although {old.addr} accepts writes and is listed first in "
                            "--primary")
        if failures:
            raise DrillFailure("; ".join(failures))
        log(f"stale primary untouched; engine refused it ({len(refusals)} log lines)")
        p = self.probe(new, "after-event-final")
        return FrontierWatch(self, new, p)

    def failover_keep_old_down(self, old):
        ha = self.ha
        self.point("before-event")
        ha.kill9(old)
        cands = ha.standbys()
        time.sleep(0.5)
        lsns = {n.name: lsn_int(ha.receive_lsn(n)) for n in cands}
        best = max(lsns.values())
        new = self.rng.choice([n for n in cands if lsns[n.name] == best])
        other = next(n for n in cands if n is not new)
        tli, t_w = ha.promote(new)
        self.load_nodes = [n for n in ha.nodes if n is not old]
        self.report["t_writable"] = t_w
        probe = self.probe(new, "after-event")
        watch = FrontierWatch(self, new, probe)
        watch.start()
        sp = ha.switch_point(new, tli)
        self.report.update(new_primary=new.name, timeline=tli, switch_point=sp)
        if lsn_int(ha.receive_lsn(other)) > lsn_int(sp):
            ha.rewind(other, new)
        else:
            ha.repoint(other, new)
        return watch

    # ------------------------------------------------------------ run
    def run(self) -> int:
        t0 = time.time()
        log(f"drill {self.number} ({NAMES[self.number]}): seed={self.seed} (replay: PGT_SEED="
            f"{self.seed}), engine {self.engine_bin}")
        ok = False

        def over_budget(signum, frame):  # noqa: ARG001
            raise DrillFailure(f"drill exceeded its {BUDGET_S} s budget (CTest's timeout is "
                               f"longer, so the servers are still stopped cleanly)")
        signal.signal(signal.SIGALRM, over_budget)
        signal.alarm(BUDGET_S)
        try:
            self.execute()
            ok = True
        except Exception as e:  # noqa: BLE001
            self.report["error"] = f"{type(e).__name__}: {e}"
            log(f"FAILED: {type(e).__name__}: {e}")
            traceback.print_exc(file=sys.stdout)
        finally:
            signal.alarm(0)
            self.report["runtime_s"] = round(time.time() - t0, 1)
            self.teardown(ok)
        self.report["result"] = "PASS" if ok else "FAIL"
        self.write_report()
        print(self.summary_line(), flush=True)
        return 0 if ok else 1

    def execute(self):
        n = self.number
        base = n
        if n == 6:
            base = self.rng.choice([1, 2, 3, 4])
            pts = KILL_POINTS[base]
            self.kill_points = set(self.rng.sample(pts, self.rng.choice([1, 2, 3])))
            self.report["base_drill"] = base
            self.report["kill_points"] = sorted(self.kill_points)
            log(f"drill 6: base drill {base} ({NAMES[base]}), engine killed at "
                f"{sorted(self.kill_points)}")
        self.base = base
        standby_attrs = "prefer-standby" if base == 2 else "standby"
        wal_source = "restore-command" if base in (2, 5) else "archive"
        self.setup(standby_attrs=standby_attrs, wal_source=wal_source)
        self.engine.start()
        self.load.start()
        self.catch_up_initial()
        self.load.wait_commits(50, timeout=120)
        time.sleep(self.rng.uniform(1.0, 4.0))     # the event lands at a random moment
        self.event_mark = self.log_mark()
        if base == 1:
            watch = self.switchover("node3")
        elif base == 2:
            watch = self.switchover("node2")
        elif base == 3:
            watch = self.failover()
        elif base == 4:
            watch = self.divergence()
        elif base == 5:
            watch = self.slot_lost()
        else:
            watch = self.stale_primary()
            watch.start()
        self.wait_timers()
        new = self.ha.primary
        w = self.join_watch(watch, 240, "re-attach")
        if base != 7:
            self.report["reattach_s"] = round(w.t_first - self.report["t_writable"], 2)
            self.report["all_tables_s"] = round(w.t_all - self.report["t_writable"], 2)
        log(f"first merge past the probe {self.report['reattach_s']} s after the new primary "
            f"accepted writes (all tables: {self.report['all_tables_s']} s)")
        # The load keeps running a while on the new primary, then stops; final oracle.
        t_more = time.time() + 3
        self.load.wait_commits(100, timeout=120)
        while time.time() < t_more:
            self.engine_alive()
            time.sleep(0.2)
        self.report["load"] = self.load.stop()
        final = self.probe(new, "final")
        self.wait_past(new, final, 180, "final catch-up")
        self.collect_engine_figures()
        if self.number == 4:
            self.no_divergence_after_rewind()
        self.oracle(new)
        self.report["forced_stops"] = self.ha.slow_stops
        if self.ha.slow_stops:
            raise DrillFailure(f"clean (fast) shutdown of {self.ha.slow_stops} did not finish "
                               f"within {self.ha.stop_timeout:.0f}s and had to be forced: a "
                               f"server's shutdown must never wait on the engine (its WAL "
                               f"sender waits for the engine to confirm what it was sent)")
        allowed = [ln for ln in self.report["resnapshot_lines"]
                   if ALLOW_LOST_MERGE_RESNAPSHOT and "last merge was lost" in ln]
        if allowed:
            self.report["notes"].append(f"{len(allowed)} re-snapshot(s) of a merge lost with the "
                                        f"old primary accepted (PGT_DRILL_ALLOW_RESNAPSHOT="
                                        f"lost-merge)")
        if self.report["resnapshots"] > len(allowed):
            raise DrillFailure(f"{self.report['resnapshots']} re-snapshot(s) after the event: "
                               f"{self.report['resnapshot_lines'][:5]}")
        self.engine_alive()

    def no_divergence_after_rewind(self):
        """Once the state is rewound to a checkpoint before the switch point, the engine must
        never again record WAL of the abandoned timeline past it as applied: a second
        divergence after the rewind means it did (a source still on the old timeline, or a
        checkpoint naming the wrong timeline) and, left alone, it rewinds in a loop."""
        lines = self.log_text(self.event_mark).splitlines()
        first = next((i for i, ln in enumerate(lines) if "rewound state to checkpoint" in ln), None)
        if first is None:
            return
        again = [ln[:300] for ln in lines[first:] if "WARNING: divergence:" in ln]
        self.report["divergences_after_rewind"] = again[:5]
        if again:
            raise DrillFailure(f"{len(again)} divergence(s) after the state was rewound: "
                               f"{again[:3]}")

    def oracle(self, node):
        rows = self.ha.sql(node, "SELECT stream_table, n_rows, only_in_stream_table, "
                                 "only_in_query FROM pgt_drill.oracle()")
        self.report["oracle"] = {r[0]: {"rows": r[1], "only_in_stream_table": r[2],
                                        "only_in_query": r[3]} for r in rows}
        bad = [r for r in rows if r[2] or r[3]]
        for r in rows:
            log(f"oracle on {node.name}: {r[0]}: {r[1]} rows, {r[2]} only in the stream table, "
                f"{r[3]} only in its query")
        if len(rows) != len(self.shapes):
            raise DrillFailure(f"oracle checked {len(rows)} of {len(self.shapes)} shapes")
        if bad:
            lines = []
            for r in bad:
                lines.append(f"{r[0]} differs from its query ('+' only in the stream table, "
                             f"'-' only in the query):")
                for side, val in self.ha.sql(node, "SELECT * FROM pgt_drill.oracle_diff(%s, 20)",
                                             (r[0],)):
                    lines.append(f"  {side} {val}")
            msg = "\n".join(lines)
            print(msg, flush=True)
            raise DrillFailure(f"oracle: {len(bad)} stream table(s) differ from their query "
                               f"on {node.name}")
        self.report["oracle_ok"] = True

    # ------------------------------------------------------------ figures
    def collect_engine_figures(self):
        text = self.log_text(self.event_mark)
        lines = text.splitlines()
        resn = [ln for ln in lines if "re-snapshot of" in ln]
        # A snapshot of the standby is a re-snapshot; a table rebuilt from the engine's own
        # source mirrors (e.g. after a merge lost with the old primary) reads no snapshot.
        boots = [ln for ln in lines if re.search(r"bootstrap of .* from a standby snapshot", ln)]
        self.report["resnapshots"] = len(resn) + (len(boots) if not resn else 0)
        self.report["resnapshot_lines"] = [ln[:300] for ln in (resn or boots)][:20]
        self.report["mirror_rebuild_lines"] = [
            ln[:300] for ln in lines
            if "from its source mirrors" in ln or "from the shared source mirrors" in ln][:20]
        self.report["reattach_lines"] = [ln[:300] for ln in lines if "re-attached" in ln][:10]
        self.report["rewound_lines"] = [ln[:300] for ln in lines if "rewound state" in ln][:10]
        fm = [float(m.group(1)) for m in re.finditer(
            r"first merge after re-attach:\s*([0-9.]+)\s*s", text)]
        self.report["engine_first_merge_after_reattach_s"] = fm
        self.report["wal_source_lines"] = {
            "archive": sum("reading WAL from the archive" in ln for ln in lines),
            "stream": sum("reading WAL from the stream" in ln for ln in lines)}
        state = None
        try:
            # The engine's failover state with its heartbeat (pgt_engine.failover, when the
            # extension has that column): counters of the running engine process.
            state = self.ha.sql(self.ha.primary, "SELECT to_jsonb(e) -> 'failover' FROM "
                                                 "pgtrickle.pgt_engine e WHERE id = 1")[0][0]
        except Exception:  # noqa: BLE001
            pass
        self.report["engine_failover_state"] = state
        self.report["wal_bytes"] = self.wal_bytes(self.log_text(0), state)

    def wal_bytes(self, text: str, state=None) -> dict:
        """WAL bytes read from the archive / the stream: the engine's /metrics when it serves
        them (URL from $PGT_DRILL_METRICS_URL or an 'http://host:port' in its log), else the
        counters of its failover state on the primary (pgt_engine.failover: wal_bytes_archive,
        wal_bytes_stream — since the engine's last start), else the largest byte count its log
        gives per source and run, else None."""
        out = {"archive": None, "stream": None, "from": None}
        urls = [os.environ["PGT_DRILL_METRICS_URL"]] if os.environ.get(
            "PGT_DRILL_METRICS_URL") else []
        urls += [m.group(0).rstrip("/.,;") + ("" if m.group(0).endswith("/metrics")
                                              else "/metrics")
                 for m in re.finditer(r"http://(?:127\.0\.0\.1|localhost|0\.0\.0\.0|\[::1?\])"
                                      r":\d+(?:/metrics)?", text)][-1:]
        for url in urls:
            try:
                body = urllib.request.urlopen(url.replace("0.0.0.0", "127.0.0.1"),
                                              timeout=5).read().decode()
            except Exception:  # noqa: BLE001
                continue
            for ln in body.splitlines():
                if ln.startswith("#") or "wal" not in ln.lower() or "bytes" not in ln.lower():
                    continue
                m = re.match(r"(\S+?)(\{[^}]*\})?\s+([0-9.eE+]+)", ln)
                if not m:
                    continue
                key = (m.group(1) + (m.group(2) or "")).lower()
                for src in ("archive", "stream"):
                    if src in key:
                        out[src] = (out[src] or 0) + int(float(m.group(3)))
                        out["from"] = "metrics"
            if out["from"]:
                return out
        if isinstance(state, dict) and any(k in state for k in ("wal_bytes_archive",
                                                                "wal_bytes_stream")):
            out["archive"] = state.get("wal_bytes_archive")
            out["stream"] = state.get("wal_bytes_stream")
            out["from"] = "pgt_engine.failover (since the engine's last start)"
            return out
        # The engine's counters are per process: the largest figure of each run (the log has
        # one "===== start #N" line per run, common.Engine), summed over the runs.
        pats = [r"\b(archive|stream)_?bytes[=: ]+(\d+)",
                r"bytes_(archive|stream)[=: ]+(\d+)",
                r"\b(archive|stream)[=:]\s*(\d+)",
                r"(\d+)\s*bytes?\b[^\n]*?\b(archive|stream)",
                r"\b(archive|stream)\w*[^\n]*?\b(\d+)\s*bytes?\b"]
        for run in re.split(r"^===== start #\d+.*$", text, flags=re.M):
            best = {"archive": None, "stream": None}
            for ln in run.splitlines():
                low = ln.lower()
                if "wal" not in low or "bytes" not in low:
                    continue
                for p in pats:
                    found = False
                    for m in re.finditer(p, ln):
                        g = m.groups()
                        src, n = (g[1], g[0]) if g[0].isdigit() else (g[0], g[1])
                        best[src] = max(best[src] or 0, int(n))
                        found = True
                    if found:
                        break
            for src in ("archive", "stream"):
                if best[src] is not None:
                    out[src] = (out[src] or 0) + best[src]
                    out["from"] = "log"
        return out

    # ------------------------------------------------------------ teardown / report
    def teardown(self, ok: bool):
        for t in self.timers:
            t.cancel()
        if self.load is not None:
            try:
                if "load" not in self.report:
                    self.report["load"] = self.load.stop()
            except Exception:  # noqa: BLE001
                pass
        if self.kills:
            self.report["kills"] = self.kills
        if self.engine is not None:
            if not ok and self.event_mark is not None and "wal_bytes" not in self.report:
                try:
                    self.collect_engine_figures()
                except Exception:  # noqa: BLE001
                    pass
            try:
                rc = self.engine.stop(timeout=30, expect_rc=None)
                self.report["engine_exit"] = rc
            except Exception:  # noqa: BLE001
                self.engine.kill()
        if self.engine is not None and os.path.exists(self.engine.log_path):
            # The whole engine log beside the report (the data dir is removed).
            try:
                os.makedirs(self.report_dir, exist_ok=True)
                dst = os.path.join(self.report_dir, f"drill{self.number}.engine.log")
                shutil.copyfile(self.engine.log_path, dst)
                self.report["engine_log"] = dst
            except OSError:
                pass
        if not ok:
            log(f"FAILED (seed={self.seed}; replay with PGT_SEED={self.seed} or --seed "
                f"{self.seed})")
            if self.engine is not None:
                self.engine.print_log(300)
            if self.ha is not None:
                self.ha.print_logs()
        if self.ha is not None:
            self.ha.stop()

    def summary_line(self) -> str:
        r = self.report
        wb = {k: ("n/a" if v is None else v) for k, v in (r.get("wal_bytes") or {}).items()}
        extra = f" base={r['base_drill']} kills={len(r.get('kills', []))}" \
            if self.number == 6 else ""
        return (f"DRILL {self.number} {r['name']}: {r['result']} "
                f"reattach={_secs(r.get('reattach_s'))} all={_secs(r.get('all_tables_s'))} "
                f"resnapshots={r.get('resnapshots', 'n/a')} "
                f"wal_archive={wb.get('archive', 'n/a')} wal_stream={wb.get('stream', 'n/a')} "
                f"runtime={r.get('runtime_s')}s seed={self.seed}{extra}"
                + (f" error={r['error'].splitlines()[0][:160]}" if r.get("error") else ""))

    def write_report(self):
        os.makedirs(self.report_dir, exist_ok=True)
        with open(os.path.join(self.report_dir, f"drill{self.number}.json"), "w") as f:
            json.dump(self.report, f, indent=2, default=str)
        write_summary(self.report_dir)


def _secs(v) -> str:
    return "n/a" if v is None else f"{v}s"


def write_summary(report_dir: str):
    """report.json (all drills run so far) + report.md (one table row per drill)."""
    reports = []
    for n in range(1, 8):
        p = os.path.join(report_dir, f"drill{n}.json")
        if os.path.exists(p):
            with open(p) as f:
                reports.append(json.load(f))
    with open(os.path.join(report_dir, "report.json"), "w") as f:
        json.dump(reports, f, indent=2, default=str)
    rows = ["| drill | result | re-attach s (first / all tables) | re-snapshots | WAL bytes "
            "archive / stream | new primary (timeline, switch point) | runtime s | seed | notes |",
            "|---|---|---|---|---|---|---|---|---|"]
    for r in reports:
        wb = {k: ("n/a" if v is None else v) for k, v in (r.get("wal_bytes") or {}).items()}
        notes = "; ".join(r.get("notes", []))
        if r.get("kills"):
            notes = f"base drill {r.get('base_drill')}, kills: {', '.join(r['kills'])}; " + notes
        if r.get("error"):
            notes = "ERROR: " + r["error"].splitlines()[0][:200] + "; " + notes
        rows.append(
            f"| {r['drill']} {r['name']} | {r['result']} | {r.get('reattach_s', 'n/a')} / "
            f"{r.get('all_tables_s', 'n/a')} | {r.get('resnapshots', 'n/a')} | "
            f"{wb.get('archive', 'n/a')} / {wb.get('stream', 'n/a')} "
            f"({wb.get('from') or 'not reported'}) | {r.get('new_primary', 'n/a')} "
            f"({r.get('timeline', 'n/a')}, {r.get('switch_point', 'n/a')}) | "
            f"{r.get('runtime_s')} | {r['seed']} | {notes.replace('|', '/')} |")
    with open(os.path.join(report_dir, "report.md"), "w") as f:
        f.write("# pg_trickle failover drills\n\n" + "\n".join(rows) + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build-dir", default=os.environ.get("PGT_BUILD_DIR",
                                                          os.path.join(REPO, "build")))
    ap.add_argument("--drill", type=int, required=True, choices=range(1, 8))
    ap.add_argument("--engine", help="engine binary (default $PGT_ENGINE_BIN or "
                                     "BUILD/engine/pgtrickle-engine)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--report-dir")
    ap.add_argument("--keep", action="store_true", help="keep the data dir")
    a = ap.parse_args(argv)
    if a.seed is None:
        a.seed = int(os.environ["PGT_SEED"]) if os.environ.get("PGT_SEED") else \
            random.SystemRandom().randrange(1, 2**31)
    return Drill(a).run()


if __name__ == "__main__":
    sys.exit(main())

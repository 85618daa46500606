#!/usr/bin/env python3
"""Live timeline check: pgtrickle-waldump follows a real promotion through the archive's .history.

A throwaway PostgreSQL 15 primary (1 MB segments, archiving into a shared archive) gets a
streaming standby (pg_basebackup -R, same archive_command). Random workload on the primary
(oracle_check.Workload), the primary is switched/archived and stopped, the standby catches up and
is promoted (timeline 2: 00000002.history, tli-1 .partial, tli-2 segments in the archive), a
logical slot is created on it and a second random workload runs there. Then

  pgtrickle-waldump --archive=ARCHIVE --timeline=2 --start=<primary start> --end=<standby end>

(and the same through a barman copy with zstd files and the .history in wals/) must equal, byte
for byte, the primary's test_decoding output followed by the promoted standby's.

usage: timeline_check.py WALDUMP [--seed=N]        Exit 77 (skip) without root/PG15.
"""
import os
import random
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle_check as oc  # noqa: E402


def main():
    waldump = sys.argv[1]
    seed = int(time.time() * 1000) % 1000000
    for a in sys.argv[2:]:
        if a.startswith("--seed="):
            seed = int(a[7:])
    if os.environ.get("ORACLE_SEED"):
        seed = int(os.environ["ORACLE_SEED"])
    if os.getuid() != 0 or not os.access(oc.BIN + "/initdb", os.X_OK):
        return 77
    print("timeline: seed=%d" % seed, flush=True)
    prim = oc.Server()
    sb = None
    sb_started = False
    try:
        prim.start(1)
        with open(os.path.join(prim.w, "data", "pg_hba.conf"), "a") as f:
            f.write("local replication all trust\n")
        prim.run([oc.BIN + "/pg_ctl", "-D", os.path.join(prim.w, "data"), "reload"])
        prim.psql(oc.SCHEMA)
        prim.psql("select 'x' from pg_create_logical_replication_slot('s', 'test_decoding')")
        start = prim.psql("select pg_current_wal_insert_lsn()").decode().strip()
        # standby: base backup into the primary's temp dir (shared archive), own port
        sbdir = os.path.join(prim.w, "standby")
        prim.run([oc.BIN + "/pg_basebackup", "-h", prim.w, "-p", str(prim.port), "-D", sbdir, "-R",
                  "-X", "stream", "--no-sync"])
        sb_port = prim.port + 1
        with open(os.path.join(sbdir, "postgresql.conf"), "a") as f:
            f.write("port=%d\n" % sb_port)
        prim.run([oc.BIN + "/pg_ctl", "-D", sbdir, "-l", os.path.join(prim.w, "sblog"), "-w", "start"])
        sb_started = True

        def sbsql(sql, file=None):
            args = [oc.BIN + "/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", prim.w, "-p", str(sb_port),
                    "-d", "postgres", "-At"] + (["-f", file] if file else ["-c", sql])
            p = subprocess.run(["runuser", "-u", "postgres", "--"] + args, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
            if p.returncode != 0:
                raise RuntimeError("standby psql: " + p.stderr.decode(errors="replace"))
            return p.stdout

        w1 = oc.Workload(seed, 150)
        path = os.path.join(prim.w, "w1.sql")
        with open(path, "w") as f:
            f.write(w1.script(truncate=False))
        os.chmod(path, 0o644)
        prim.psql(file=path)
        prim_end = prim.psql("select pg_current_wal_insert_lsn()").decode().strip()
        expected1 = prim.psql("select data from pg_logical_slot_peek_changes('s', NULL, NULL, "
                              "'include-xids', '0', 'skip-empty-xacts', '1')")
        prim.switch_and_archive()
        flush = prim.psql("select pg_current_wal_flush_lsn()").decode().strip()
        for _ in range(400):
            r = sbsql("select pg_last_wal_replay_lsn() >= '%s'" % flush).decode().strip()
            if r == "t":
                break
            time.sleep(0.05)
        else:
            raise RuntimeError("standby did not catch up")
        prim.run([oc.BIN + "/pg_ctl", "-D", os.path.join(prim.w, "data"), "-m", "fast", "stop"])
        prim.started = False
        prim.run([oc.BIN + "/pg_ctl", "-D", sbdir, "-w", "promote"])
        sbsql("select 'x' from pg_create_logical_replication_slot('s2', 'test_decoding')")
        w2 = oc.Workload(seed + 1, 150)
        w2.next_id = w1.next_id + 1000000
        path2 = os.path.join(prim.w, "w2.sql")
        with open(path2, "w") as f:
            f.write(w2.script(truncate=False))
        os.chmod(path2, 0o644)
        sbsql(None, file=path2)
        end = sbsql("select pg_current_wal_insert_lsn()").decode().strip()
        expected2 = sbsql("select data from pg_logical_slot_peek_changes('s2', NULL, NULL, "
                          "'include-xids', '0', 'skip-empty-xacts', '1')")
        seg = sbsql("select pg_walfile_name(pg_switch_wal())").decode().strip()
        for _ in range(400):
            done = sbsql("select last_archived_wal from pg_stat_archiver").decode().strip()
            if done and done >= seg:
                break
            time.sleep(0.05)
        tli = str(int(sbsql("select substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)").decode().strip(), 16))
        files = sorted(os.listdir(prim.arch))
        if tli != "2" or "00000002.history" not in files:
            raise RuntimeError("no timeline 2 in the archive: tli=%s files=%s" % (tli, files))
        print("timeline: primary %s..%s, standby (tli 2) ..%s; archive: %s"
              % (start, prim_end, end, " ".join(f for f in files if "history" in f or "partial" in f)),
              flush=True)
        expected = expected1 + expected2
        # barman copy: tli-2 segments zstd, history in wals/
        barman = os.path.join(prim.w, "barman")
        for f in files:
            if len(f) >= 24:
                d = os.path.join(barman, "wals", f[:16])
                os.makedirs(d, exist_ok=True)
                if f.startswith("00000002") and len(f) == 24:
                    subprocess.run(["zstd", "-q", os.path.join(prim.arch, f), "-o", os.path.join(d, f + ".zst")],
                                   check=True)
                else:
                    shutil.copy(os.path.join(prim.arch, f), d)
            else:
                os.makedirs(os.path.join(barman, "wals"), exist_ok=True)
                shutil.copy(os.path.join(prim.arch, f), os.path.join(barman, "wals"))
        common = ["--start=" + start, "--end=" + end, "--timeline=2",
                  "--catalog=host=%s port=%d dbname=postgres user=postgres" % (prim.w, sb_port)]
        ok = True
        for name, args in [("archive", ["--archive=" + prim.arch]), ("barman", ["--archive=" + barman])]:
            p = subprocess.run([waldump] + args + common, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=60)
            if p.returncode != 0:
                print("timeline (%s): waldump failed (seed=%d): %s" % (name, seed, p.stderr.decode()))
                ok = False
            elif p.stdout != expected:
                oc.first_diff(expected, p.stdout, seed, "timeline " + name)
                ok = False
            else:
                print("timeline (%s): %d lines identical to test_decoding on both timelines"
                      % (name, expected.count(b"\n")), flush=True)
        return 0 if ok else 1
    finally:
        if sb_started:
            subprocess.run(["runuser", "-u", "postgres", "--", oc.BIN + "/pg_ctl", "-D",
                            os.path.join(prim.w, "standby"), "-m", "immediate", "stop"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        prim.stop()


if __name__ == "__main__":
    import signal
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    sys.exit(main())

#!/usr/bin/env python3
"""Live timeline check: pgtrickle-waldump follows a real promotion, streaming and through the archive.

A throwaway PostgreSQL 15 primary (1 MB segments, archiving into a shared archive) gets a
streaming standby (pg_basebackup -R, same archive_command) and a cascading standby streaming from
that standby. Two CLIs start streaming (--stream=, no --end) from the standby and from the
cascading standby. Random workload on the primary (oracle_check.Workload), the primary is
switched/archived and stopped, the standby catches up and is promoted (timeline 2:
00000002.history, tli-1 .partial, tli-2 segments in the archive; the cascading standby follows it),
a logical slot is created on it and a second random workload runs there. Then each of these must
equal, byte for byte, the primary's test_decoding output followed by the promoted standby's:

  - the two live CLIs (they must follow the switch themselves; stopped once they printed as much)
  - pgtrickle-waldump --stream=<promoted> --start=<tli-1 LSN> --end=<end> [--timeline=1]
    (historic timeline streamed up to the switch point, end of COPY, next timeline)
  - pgtrickle-waldump --archive=ARCHIVE --timeline=2 --start=<primary start> --end=<standby end>
    and the same through a barman copy with zstd files and the .history in wals/

and --stream with --timeline=1 but a start LSN on timeline 2 must equal the second part alone.

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


def check_live(name, live, path, expected, seed):
    """Waits (up to 60 s) for the live CLI to print as much as test_decoding did, lets it run a
    little longer (nothing more may come), stops it and compares."""
    deadline = time.time() + 60
    while time.time() < deadline and os.path.getsize(path) < len(expected) and live.poll() is None:
        time.sleep(0.1)
    time.sleep(0.5)
    if live.poll() is not None:
        print("timeline (%s): waldump exited with %s (seed=%d): %s"
              % (name, live.returncode, seed, open(path + ".err", "rb").read().decode(errors="replace")))
        return False
    live.terminate()
    live.wait(10)
    got = open(path, "rb").read()
    if got != expected:
        oc.first_diff(expected, got, seed, "timeline " + name)
        print("stderr: " + open(path + ".err", "rb").read().decode(errors="replace")[-2000:])
        return False
    print("timeline (%s): %d lines identical to test_decoding" % (name, expected.count(b"\n")),
          flush=True)
    return True


def main():
    waldump = sys.argv[1]
    seed = oc.seed_or_skip(sys.argv[2:], "timeline")
    if seed is None:
        return 77
    prim = oc.Server()
    sb = None
    sb_started = False
    lives = []
    sb2_started = [False]
    try:
        prim.start(1)
        with open(os.path.join(prim.w, "data", "pg_hba.conf"), "a") as f:
            f.write("local replication all trust\n")
        prim.run([oc.BIN + "/pg_ctl", "-D", os.path.join(prim.w, "data"), "reload"])
        oc.create_schema(prim)
        prim.psql("select 'x' from pg_create_logical_replication_slot('s', 'test_decoding')")
        start = prim.psql("select pg_current_wal_insert_lsn()").decode().strip()
        # standby: base backup into the primary's temp dir (shared archive), own port
        sbdir = os.path.join(prim.w, "standby")
        prim.run([oc.BIN + "/pg_basebackup", "-h", prim.w, "-p", str(prim.port), "-D", sbdir, "-R",
                  "-X", "stream", "--no-sync"])
        sb_port = prim.port + 1
        with open(os.path.join(sbdir, "postgresql.conf"), "a") as f:
            # keep the timeline-1 segments after promotion: the historic-timeline stream reads them
            f.write("port=%d\nwal_keep_size=1GB\n" % sb_port)
        prim.run([oc.BIN + "/pg_ctl", "-D", sbdir, "-l", os.path.join(prim.w, "sblog"), "-w", "start"])
        sb_started = True
        sb_conn = "host=%s port=%d dbname=postgres user=postgres" % (prim.w, sb_port)

        def sbsql(sql, file=None, port=sb_port):
            args = [oc.BIN + "/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", prim.w, "-p", str(port),
                    "-d", "postgres", "-At"] + (["-f", file] if file else ["-c", sql])
            p = subprocess.run(["runuser", "-u", "postgres", "--"] + args, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
            if p.returncode != 0:
                raise RuntimeError("standby psql: " + p.stderr.decode(errors="replace"))
            return p.stdout

        # cascading standby: streams from the standby, follows its promotion (timeline 2) itself
        sb2dir = os.path.join(prim.w, "standby2")
        prim.run([oc.BIN + "/pg_basebackup", "-h", prim.w, "-p", str(sb_port), "-D", sb2dir, "-R",
                  "-X", "stream", "--no-sync"])
        sb2_port = prim.port + 2
        with open(os.path.join(sb2dir, "postgresql.conf"), "a") as f:
            f.write("port=%d\nwal_keep_size=1GB\n" % sb2_port)
        prim.run([oc.BIN + "/pg_ctl", "-D", sb2dir, "-l", os.path.join(prim.w, "sb2log"), "-w", "start"])
        sb2_started[0] = True
        sb2_conn = "host=%s port=%d dbname=postgres user=postgres" % (prim.w, sb2_port)

        # Streaming start: a position the standby has already received (its pg_wal begins at the
        # base backup, after `start`; no transaction runs in between).
        sstart = prim.psql("select pg_current_wal_insert_lsn()").decode().strip()
        for port in (sb_port, sb2_port):
            for _ in range(400):
                if sbsql("select pg_last_wal_receive_lsn() >= '%s'" % sstart, port=port).decode().strip() == "t":
                    break
                time.sleep(0.05)
            else:
                raise RuntimeError("standby (port %d) did not receive %s" % (port, sstart))
        # Live: the CLI streams from the standby (timeline 1) while it is promoted and written to
        # on timeline 2, and from the cascading standby while that one follows the promotion; it
        # has to follow the switch without being restarted.
        for name, conn in [("live stream through the promotion", sb_conn),
                           ("live stream from a cascading standby following the promotion", sb2_conn)]:
            path = os.path.join(prim.w, "live%d.out" % len(lives))
            lives.append((name, path, subprocess.Popen(
                [waldump, "--stream=" + conn, "--start=" + sstart, "--catalog=" + conn],
                stdout=open(path, "wb"), stderr=open(path + ".err", "wb"))))

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
        start2 = sbsql("select pg_current_wal_insert_lsn()").decode().strip()   # on timeline 2
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
        for name, path, live in lives:
            ok = check_live(name, live, path, expected, seed) and ok
        # Streaming from the promoted server, starting on timeline 1: the server streams the
        # historic timeline up to the switch point, ends COPY naming timeline 2, and the CLI goes
        # on there (with --timeline=1, and with the timeline chosen from TIMELINE_HISTORY).
        stream_common = ["--stream=" + sb_conn, "--start=" + sstart, "--end=" + end, "--catalog=" + sb_conn]
        # (A restart with the old timeline at a position past the switch point: only timeline 2.)
        restart = ["--stream=" + sb_conn, "--start=" + start2, "--end=" + end, "--catalog=" + sb_conn,
                   "--timeline=1"]
        for name, args, want in [("stream, promoted server, --timeline=1", stream_common + ["--timeline=1"], expected),
                                 ("stream, promoted server, timeline from history", stream_common, expected),
                                 ("stream, --timeline=1 but start on timeline 2", restart, expected2)]:
            ok = oc.compare_cli(waldump, args, want, seed, "timeline (%s)" % name) and ok
        for name, args in [("archive", ["--archive=" + prim.arch]), ("barman", ["--archive=" + barman])]:
            ok = oc.compare_cli(waldump, args + common, expected, seed, "timeline (%s)" % name,
                                "to test_decoding on both timelines") and ok
        return 0 if ok else 1
    finally:
        for _, _, live in lives:
            if live.poll() is None:
                live.kill()
                live.wait()
        if sb2_started[0]:
            subprocess.run(["runuser", "-u", "postgres", "--", oc.BIN + "/pg_ctl", "-D",
                            os.path.join(prim.w, "standby2"), "-m", "immediate", "stop"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if sb_started:
            subprocess.run(["runuser", "-u", "postgres", "--", oc.BIN + "/pg_ctl", "-D",
                            os.path.join(prim.w, "standby"), "-m", "immediate", "stop"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        prim.stop()


if __name__ == "__main__":
    import signal
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    sys.exit(main())

#!/usr/bin/python3
"""Local PostgreSQL 15 primary + two hot standbys + a barman-layout WAL archive, for the
failover drills (tests/failover/). Built on cluster.py's primitives (server user, port
registry, cleanup on exit/SIGINT/SIGTERM); cluster.Cluster (primary + one standby) is unchanged.

    from ha import HACluster
    with HACluster() as ha:                        # node1 primary, node2 + node3 standbys
        ha.sql(ha.primary, "CREATE TABLE t(id int primary key)")
        ha.stop_node(ha.primary, "fast")           # switchover: clean stop …
        tli, t_writable = ha.promote(ha.node("node3"))
        ha.repoint(ha.node("node2"), ha.node("node3"))
        ha.rewind(ha.node("node1"), ha.node("node3"))

The archive (ARCHIVE = <data root>/archive) is what barman-cloud writes for CloudNativePG:
    ARCHIVE/wals/<first 16 hex of the segment>/<segment>.zst    (zstd; also .partial, .backup)
    ARCHIVE/wals/<tli>.history.zst
filled by every node's archive_command (`wal-archive push %p %f`) and read by every node's
restore_command (`wal-archive fetch %f %p`, decompressing). The script is written into the data
root (`ha.archive_script`) so an engine can use it as --restore-command too.

Every server runs with wal_log_hints=on (pg_rewind), hot_standby_feedback, small WAL retention
(wal_keep_size 32MB, max_wal_size 64MB: a standby that falls behind catches up from the
archive, like a CNPG replica), recovery_target_timeline=latest (the default).
"""
from __future__ import annotations

import os
import pwd
import shutil
import signal
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import cluster as _c  # noqa: E402
from cluster import ClusterError, run_as_server_user  # noqa: E402

WAL_SEG_SIZE = 16 * 1024 * 1024

ARCHIVE_SCRIPT = r"""#!/bin/sh
# wal-archive: archive_command / restore_command in barman layout (zstd), written by
# tests/harness/ha.py.   push %p %f   |   fetch %f %p
set -eu
ARCHIVE='@ARCHIVE@'
op=$1
case "$op" in
  push) src=$2; name=$3 ;;
  fetch) name=$2; dst=$3 ;;
  *) echo "usage: $0 push %p %f | fetch %f %p" >&2; exit 2 ;;
esac
case "$name" in
  *.history) dir="$ARCHIVE/wals" ;;
  *) dir="$ARCHIVE/wals/$(printf '%s' "$name" | cut -c1-16)" ;;
esac
if [ "$op" = push ]; then
  if [ -f "$dir/$name.zst" ]; then
    # Same content archived twice (a retried archive_command) is fine; different is an error.
    if zstd -dcq "$dir/$name.zst" | cmp -s - "$src"; then exit 0; fi
    echo "wal-archive: $dir/$name.zst exists with different content" >&2; exit 1
  fi
  mkdir -p "$dir"
  zstd -q -1 -f "$src" -o "$dir/.$name.zst.tmp"
  mv "$dir/.$name.zst.tmp" "$dir/$name.zst"
  exit 0
fi
[ -f "$dir/$name.zst" ] || exit 1
zstd -dq -f "$dir/$name.zst" -o "$dst"
"""


def log(msg: str) -> None:
    print(f"[ha {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def walfile_name(tli: int, lsn: str) -> str:
    hi, lo = (int(x, 16) for x in lsn.split("/"))
    seg = ((hi << 32) | lo) // WAL_SEG_SIZE
    per = 0x100000000 // WAL_SEG_SIZE
    return f"{tli:08X}{seg // per:08X}{seg % per:08X}"


def lsn_int(lsn: str) -> int:
    hi, lo = (int(x, 16) for x in lsn.split("/"))
    return (hi << 32) | lo


def _procs_in(datadir: str) -> list[int]:
    """Processes whose cwd is datadir (a postmaster's children keep it after a kill -9)."""
    out = []
    real = os.path.realpath(datadir)
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{d}/cwd") == real and _c._alive(int(d)):
                out.append(int(d))
        except OSError:
            pass
    return out


def _stable_port_range() -> tuple[int, int] | None:
    """Ports below the kernel's ephemeral range: a node restarted on its old port (rewind,
    stale primary) must not find it taken by some client connection's local port."""
    low = 32768
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return (max(10000, low - 12000), low) if low > 16000 else None


class Node:
    def __init__(self, ha: "HACluster", name: str, port: int):
        self.ha = ha
        self.name = name
        self.port = port
        self.datadir = os.path.join(ha.data_root, name)
        self.logfile = os.path.join(ha.log_dir, f"{name}.log")

    def dsn(self, dbname="postgres", **extra) -> str:
        return _c.Cluster.dsn(self.port, dbname, **extra)

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    def running(self) -> bool:
        return any(_c._alive(p) for p in _c._postmaster_pid(self.datadir))

    def __repr__(self):
        return f"{self.name}(:{self.port})"


class HACluster:
    """node1 (initial primary) + node2, node3 (hot standbys streaming from it, no slots)."""

    def __init__(self, n_nodes: int = 3, extra_conf: dict | None = None, keep: bool = False,
                 preload="auto"):
        self.n_nodes = n_nodes
        self.extra_conf = dict(extra_conf or {})
        self.keep = keep
        self.preload = preload
        self.data_root: str | None = None
        self.nodes: list[Node] = []
        self.ports: list[int] = []
        self.primary: Node | None = None
        self._stopped = False
        self.stop_timeout = 30.0         # a clean (fast) stop must finish within this
        self.slow_stops: list[tuple[str, str, float]] = []   # fast stops that had to be forced

    # ---- paths
    @property
    def archive_dir(self): return os.path.join(self.data_root, "archive")
    @property
    def log_dir(self): return os.path.join(self.data_root, "log")
    @property
    def sock_dir(self): return os.path.join(self.data_root, "sock")
    @property
    def archive_script(self): return os.path.join(self.data_root, "wal-archive")

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def standbys(self) -> list[Node]:
        return [n for n in self.nodes if n is not self.primary]

    def multi_host(self, nodes=None, **extra) -> str:
        """Multi-host conninfo over `nodes` (default all, in order), like a CNPG service."""
        nodes = list(nodes or self.nodes)
        parts = ["host=" + ",".join("127.0.0.1" for _ in nodes),
                 "port=" + ",".join(str(n.port) for n in nodes),
                 "user=postgres", "dbname=postgres"]
        parts += [f"{k}={v}" for k, v in extra.items()]
        return " ".join(parts)

    # ---- lifecycle
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and exc_type not in (KeyboardInterrupt, SystemExit):
            self.print_logs()
        self.stop()
        return False

    def _chown(self, path: str) -> None:
        if _c._is_root():
            pw = pwd.getpwnam(_c.SERVER_USER)
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def start(self) -> "HACluster":
        _c._install_handlers()
        self.data_root = tempfile.mkdtemp(prefix="pgtrickle-ha-", dir="/tmp")
        os.chmod(self.data_root, 0o755)
        _c._LIVE.append(self)
        try:
            for d in (self.archive_dir, self.log_dir, self.sock_dir,
                      os.path.join(self.archive_dir, "wals")):
                os.makedirs(d, exist_ok=True)
                self._chown(d)
            self._chown(self.data_root)
            with open(self.archive_script, "w") as f:
                f.write(ARCHIVE_SCRIPT.replace("@ARCHIVE@", self.archive_dir))
            os.chmod(self.archive_script, 0o755)
            if not shutil.which("zstd"):
                raise ClusterError("the zstd CLI is missing (tools/install-deps.sh installs it)")
            self.ports = _c.reserve_ports(self.n_nodes, self.data_root, _stable_port_range())
            self.nodes = [Node(self, f"node{i + 1}", p) for i, p in enumerate(self.ports)]
            self.primary = self.nodes[0]
            self._init_primary(self.primary)
            # Both standbys cloned at once (two base backups in parallel).
            errors = []

            def clone(n):
                try:
                    self.clone(n, self.primary)
                except BaseException as e:  # noqa: BLE001
                    errors.append(e)
            ts = [threading.Thread(target=clone, args=(n,)) for n in self.nodes[1:]]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            if errors:
                raise errors[0]
        except BaseException:
            self.print_logs()
            self.stop()
            raise
        log(f"up: {', '.join(f'{n.name} :{n.port}' for n in self.nodes)} "
            f"(primary {self.primary.name}), data {self.data_root}")
        return self

    def stop(self) -> None:
        if self._stopped or self.data_root is None:
            return
        self._stopped = True
        for n in reversed(self.nodes):
            try:
                self.stop_node(n, "immediate")
            except Exception as e:  # noqa: BLE001
                log(f"stopping {n.name} failed: {e}")
        t0 = time.time()
        _c.release_ports(self.ports, self.data_root)
        if self in _c._LIVE:
            _c._LIVE.remove(self)
        if not self.keep:
            # Removed by a detached `rm -rf` (every server is stopped): on a busy machine
            # removing three data dirs and the engine's checkpoints takes seconds.
            import subprocess
            try:
                subprocess.Popen(["rm", "-rf", self.data_root], start_new_session=True,
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
            except OSError:
                shutil.rmtree(self.data_root, ignore_errors=True)
        log(f"stopped ({self.data_root}{' kept' if self.keep else ' being removed'}, "
            f"{time.time() - t0:.1f}s)")

    # ---- configuration
    def _conf(self, node: Node) -> str:
        preload = _c.extension_library_installed() if self.preload == "auto" else self.preload
        lines = {
            "port": str(node.port),
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.sock_dir}'",
            "wal_level": "logical",
            "wal_log_hints": "on",
            "hot_standby": "on",
            "hot_standby_feedback": "on",
            "max_wal_senders": "10",
            "max_replication_slots": "10",
            "wal_keep_size": "'32MB'",
            "max_wal_size": "'64MB'",
            "min_wal_size": "'32MB'",
            "archive_mode": "on",
            "archive_command": f"'{self.archive_script} push %p %f'",
            "restore_command": f"'{self.archive_script} fetch %f %p'",
            "recovery_target_timeline": "'latest'",
            "wal_sender_timeout": "'5s'",
            "wal_receiver_status_interval": "'1s'",
            "wal_retrieve_retry_interval": "'1s'",
            "fsync": "off",
            "log_line_prefix": "'%m [%p] %q%a '",
            "log_min_messages": "warning",
            "datestyle": "'iso, mdy'",
            "timezone": "'UTC'",
        }
        if preload:
            lines["shared_preload_libraries"] = "'pg_trickle'"
        lines.update({k: str(v) for k, v in self.extra_conf.items()})
        return "\n# --- pg_trickle HA drill harness ---\n" + "".join(
            f"{k} = {v}\n" for k, v in lines.items())

    def _append_conf(self, node: Node, text: str) -> None:
        with open(os.path.join(node.datadir, "postgresql.conf"), "a") as f:
            f.write(text)

    def _init_primary(self, node: Node) -> None:
        run_as_server_user([os.path.join(_c.PG_BIN, "initdb"), "-D", node.datadir,
                            "--locale=C", "-E", "UTF8", "-A", "trust", "-U", "postgres",
                            "--no-sync"], timeout=300)
        self._append_conf(node, self._conf(node))
        with open(os.path.join(node.datadir, "pg_hba.conf"), "a") as f:
            f.write("host replication all 127.0.0.1/32 trust\n")
        self.start_node(node)

    def _make_standby(self, node: Node, upstream: Node) -> None:
        """standby.signal + primary_conninfo (in postgresql.auto.conf, where ALTER SYSTEM and
        pg_rewind -R write it too)."""
        path = os.path.join(node.datadir, "standby.signal")
        open(path, "w").close()
        self._chown(path)
        self._set_auto_conf(node, "primary_conninfo",
                            upstream.dsn(application_name=node.name))

    def _set_auto_conf(self, node: Node, key: str, value: str | None) -> None:
        path = os.path.join(node.datadir, "postgresql.auto.conf")
        lines = []
        if os.path.exists(path):
            with open(path) as f:
                lines = [ln for ln in f if not ln.split("=")[0].strip() == key]
        if value is not None:
            lines.append(f"{key} = '" + value.replace("'", "''") + "'\n")
        with open(path, "w") as f:
            f.writelines(lines)
        self._chown(path)

    # ---- servers
    def start_node(self, node: Node, extra_opts: str | None = None, wait=True) -> None:
        argv = [os.path.join(_c.PG_BIN, "pg_ctl"), "-D", node.datadir, "-l", node.logfile,
                "-t", "120", "-w" if wait else "-W", "start"]
        if extra_opts:
            argv += ["-o", extra_opts]
        run_as_server_user(argv, timeout=180)
        log(f"{node.name} started")

    def stop_node(self, node: Node, mode: str = "fast") -> None:
        """pg_ctl stop -m mode (fast = clean shutdown with a shutdown checkpoint)."""
        if not os.path.exists(os.path.join(node.datadir, "postmaster.pid")):
            self._wait_no_procs(node)
            return
        pids = _c._postmaster_pid(node.datadir)
        t0 = time.time()
        p = run_as_server_user([os.path.join(_c.PG_BIN, "pg_ctl"), "-D", node.datadir, "-m",
                                mode, "-w", "-t", str(int(self.stop_timeout)), "stop"],
                               check=False, timeout=self.stop_timeout + 30)
        if p.returncode != 0 and mode != "immediate":
            # e.g. a WAL sender waiting for a client that never confirms what it was sent
            self.slow_stops.append((node.name, mode, round(time.time() - t0, 1)))
            log(f"pg_ctl stop -m {mode} of {node.name} did not finish within "
                f"{self.stop_timeout:.0f}s: {p.stdout.strip()[-200:]}")
            run_as_server_user([os.path.join(_c.PG_BIN, "pg_ctl"), "-D", node.datadir, "-m",
                                "immediate", "-w", "-t", "30", "stop"], check=False,
                               timeout=60)
        for pid in pids:
            _c._kill_wait(pid)
        self._wait_no_procs(node)
        log(f"{node.name} stopped ({mode})")

    def kill9(self, node: Node) -> None:
        """kill -9 of the postmaster (an unplanned crash); waits for its children to go."""
        pids = _c._postmaster_pid(node.datadir)
        if not pids:
            raise ClusterError(f"{node.name}: no postmaster.pid")
        os.kill(pids[0], signal.SIGKILL)
        log(f"{node.name}: postmaster {pids[0]} killed with SIGKILL")
        self._wait_no_procs(node)
        # Until its parent (init) reaps it, the dead postmaster is a zombie whose PID still
        # exists: PostgreSQL (a restart, pg_rewind's crash recovery) would take postmaster.pid
        # for a live lock. Wait for the reaping; if it does not come (or the PID was reused
        # meanwhile), drop the stale lock file: every process of that server is dead.
        deadline = time.time() + 10
        while os.path.exists(f"/proc/{pids[0]}") and time.time() < deadline:
            time.sleep(0.1)
        if os.path.exists(f"/proc/{pids[0]}"):
            log(f"{node.name}: PID {pids[0]} still exists (zombie or reused): removing the "
                f"stale postmaster.pid")
            try:
                os.unlink(os.path.join(node.datadir, "postmaster.pid"))
            except OSError:
                pass

    def _wait_no_procs(self, node: Node, timeout: float = 30) -> None:
        deadline = time.time() + timeout
        while _procs_in(node.datadir):
            if time.time() > deadline:
                for pid in _procs_in(node.datadir):
                    _c._kill_wait(pid)
                break
            time.sleep(0.1)

    # ---- SQL
    def connect(self, node: Node, timeout: int = 10):
        import psycopg2
        return psycopg2.connect(node.dsn(connect_timeout=timeout))

    def sql(self, node: Node, q: str, params=None):
        conn = self.connect(node)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(q, params)
                return cur.fetchall() if cur.description is not None else None
        finally:
            conn.close()

    def in_recovery(self, node: Node) -> bool:
        return self.sql(node, "SELECT pg_is_in_recovery()")[0][0]

    def current_lsn(self, node: Node | None = None) -> str:
        return self.sql(node or self.primary, "SELECT pg_current_wal_lsn()::text")[0][0]

    def timeline(self, node: Node) -> int:
        """The timeline a server writes (primary) or replays (standby)."""
        if not self.in_recovery(node):
            return int(self.sql(node, "SELECT pg_walfile_name(pg_current_wal_lsn())")[0][0][:8],
                       16)
        rows = self.sql(node, "SELECT received_tli FROM pg_stat_wal_receiver")
        cp = self.sql(node, "SELECT timeline_id FROM pg_control_checkpoint()")[0][0]
        return max([cp] + [r[0] for r in rows if r[0]])

    def wait_streaming(self, upstream: Node, standby: Node, timeout: float = 120) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                rows = self.sql(upstream, "SELECT state FROM pg_stat_replication "
                                          "WHERE application_name = %s", (standby.name,))
                if rows and rows[0][0] == "streaming":
                    return
            except Exception:  # noqa: BLE001 - server (re)starting
                pass
            time.sleep(0.2)
        raise ClusterError(f"{standby.name} not streaming from {upstream.name} after "
                           f"{timeout}s (see {standby.logfile})")

    def wait_replayed(self, standby: Node, lsn: str, timeout: float = 120) -> None:
        deadline = time.time() + timeout
        while True:
            try:
                ok, replay = self.sql(standby, "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn, "
                                               "pg_last_wal_replay_lsn()::text", (lsn,))[0]
                if ok:
                    return
            except Exception:  # noqa: BLE001
                replay = "?"
            if time.time() > deadline:
                raise ClusterError(f"{standby.name} replay {replay} < {lsn} after {timeout}s")
            time.sleep(0.1)

    def receive_lsn(self, standby: Node) -> str:
        return self.sql(standby, "SELECT greatest(pg_last_wal_receive_lsn(), "
                                 "pg_last_wal_replay_lsn())::text")[0][0]

    # ---- roles
    def promote(self, node: Node, timeout: float = 120) -> tuple[int, float]:
        """pg_ctl promote; returns (new timeline, time.time() when it first accepted a write)."""
        run_as_server_user([os.path.join(_c.PG_BIN, "pg_ctl"), "-D", node.datadir, "-w",
                            "-t", str(int(timeout)), "promote"], timeout=timeout + 30)
        deadline = time.time() + timeout
        while True:
            try:
                self.sql(node, "SELECT pg_current_xact_id()")   # a write: assigns an xid
                break
            except Exception as e:  # noqa: BLE001
                if time.time() > deadline:
                    raise ClusterError(f"{node.name} accepts no writes after promote: {e}")
                time.sleep(0.05)
        t_writable = time.time()
        self.primary = node
        tli = self.timeline(node)
        log(f"{node.name} promoted: timeline {tli}, writable")
        return tli, t_writable

    def switch_point(self, node: Node, tli: int) -> str:
        """Where timeline tli-1 ended, from the new primary's history file."""
        text = self.sql(node, "SELECT pg_read_file(%s)", (f"pg_wal/{tli:08X}.history",))[0][0]
        last = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")][-1]
        return last.split()[1]

    def repoint(self, standby: Node, upstream: Node, timeout: float = 120) -> None:
        """primary_conninfo → upstream, reload (the WAL receiver restarts; it follows the new
        timeline, recovery_target_timeline = latest); waits until it streams from upstream."""
        dsn = upstream.dsn(application_name=standby.name)
        self.sql(standby, "ALTER SYSTEM SET primary_conninfo = %s", (dsn,))
        self.sql(standby, "ALTER SYSTEM RESET restore_command")
        self.sql(standby, "SELECT pg_reload_conf()")
        log(f"{standby.name} re-pointed to {upstream.name} (reload)")
        self.wait_streaming(upstream, standby, timeout)

    def stop_wal_receiver(self, standby: Node) -> None:
        """Make a standby lag: empty primary_conninfo (and no restore_command, so it does not
        catch up from the archive either) + reload."""
        self.sql(standby, "ALTER SYSTEM SET primary_conninfo = ''")
        self.sql(standby, "ALTER SYSTEM SET restore_command = ''")
        self.sql(standby, "SELECT pg_reload_conf()")
        deadline = time.time() + 60
        while self.sql(standby, "SELECT count(*) FROM pg_stat_wal_receiver")[0][0]:
            if time.time() > deadline:
                raise ClusterError(f"{standby.name}: WAL receiver still running")
            time.sleep(0.1)
        log(f"{standby.name}: WAL receiver stopped (lagging from now on)")

    def rewind(self, node: Node, source: Node) -> None:
        """pg_rewind the (stopped or crashed) node onto source's timeline and start it as a
        standby of source (pg_rewind -R writes standby.signal + primary_conninfo)."""
        if node.running():
            self.stop_node(node, "fast")
        # A just-promoted source has not checkpointed on its new timeline yet: pg_rewind reads
        # the timeline from the control file and would say "no rewind required".
        if not self.in_recovery(source):
            self.sql(source, "CHECKPOINT")
        # pg_rewind copies the source's configuration files: keep the node's own.
        saved = {}
        for name in ("postgresql.conf", "postgresql.auto.conf", "pg_hba.conf"):
            path = os.path.join(node.datadir, name)
            if os.path.exists(path):
                with open(path) as f:
                    saved[name] = f.read()
        p = run_as_server_user([os.path.join(_c.PG_BIN, "pg_rewind"), "-D", node.datadir,
                                "--source-server", source.dsn(), "-R", "-c", "--no-sync"],
                               timeout=600, check=False)
        if p.returncode != 0:
            raise ClusterError(f"pg_rewind of {node.name} from {source.name} failed:\n"
                               f"{p.stdout}")
        log(f"{node.name} rewound from {source.name}: "
            f"{(p.stdout or '').strip().splitlines()[-1:] }")
        for name, text in saved.items():
            path = os.path.join(node.datadir, name)
            with open(path, "w") as f:
                f.write(text)
            self._chown(path)
        path = os.path.join(node.datadir, "standby.signal")
        open(path, "a").close()
        self._chown(path)
        self._set_auto_conf(node, "primary_conninfo", source.dsn(application_name=node.name))
        self._set_auto_conf(node, "restore_command", None)
        self.start_node(node)
        self.wait_streaming(source, node)

    def clone(self, node: Node, source: Node) -> None:
        """(Re-)clone node from source with pg_basebackup and start it as its hot standby."""
        if node.running():
            self.stop_node(node, "immediate")
        if os.path.exists(node.datadir):
            shutil.rmtree(node.datadir)
        run_as_server_user([os.path.join(_c.PG_BIN, "pg_basebackup"), "-D", node.datadir,
                            "-h", "127.0.0.1", "-p", str(source.port), "-U", "postgres",
                            "-X", "stream", "-c", "fast", "--no-sync"], timeout=600)
        self._append_conf(node, self._conf(node))
        self._make_standby(node, source)
        self.start_node(node)
        self.wait_streaming(source, node)
        log(f"{node.name} cloned from {source.name}")

    # ---- WAL retention
    def wal_segments(self, node: Node) -> set[str]:
        return {r[0] for r in self.sql(node, "SELECT name FROM pg_ls_waldir()")}

    def archived(self, segment: str) -> bool:
        return os.path.exists(os.path.join(self.archive_dir, "wals", segment[:16],
                                           segment + ".zst"))

    def force_wal_recycling(self, gone: list[str], nodes: list[Node],
                            timeout: float = 180) -> int:
        """pg_switch_wal + CHECKPOINT on the primary and restartpoints (CHECKPOINT) on the
        standbys until none of `gone` (segment names) is left in any node's pg_wal.
        Returns the number of rounds."""
        deadline = time.time() + timeout
        rounds = 0
        while True:
            left = {n.name: sorted(set(gone) & self.wal_segments(n)) for n in nodes}
            if not any(left.values()):
                return rounds
            if time.time() > deadline:
                raise ClusterError(f"WAL not recycled after {timeout}s: still there {left}")
            rounds += 1
            self.sql(self.primary, "CREATE TABLE IF NOT EXISTS pgt_wal_push(x int)")
            self.sql(self.primary, "INSERT INTO pgt_wal_push VALUES (1)")
            self.sql(self.primary, "SELECT pg_switch_wal()")
            self.sql(self.primary, "CHECKPOINT")
            lsn = self.current_lsn()
            for n in nodes:
                if n is not self.primary:
                    try:
                        self.wait_replayed(n, lsn, 60)
                    except ClusterError:
                        pass
                    self.sql(n, "CHECKPOINT")
            time.sleep(0.2)

    # ---- diagnostics
    def print_logs(self, lines: int = 40) -> None:
        if not self.data_root:
            return
        for n in self.nodes:
            if os.path.exists(n.logfile):
                with open(n.logfile, errors="replace") as f:
                    tail = f.readlines()[-lines:]
                print(f"----- last {len(tail)} lines of {n.logfile} -----", file=sys.stderr)
                sys.stderr.write("".join(tail))
                print("-----", file=sys.stderr, flush=True)

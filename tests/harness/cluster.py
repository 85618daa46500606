#!/usr/bin/python3
"""Local PostgreSQL 15 primary + hot standby for tests, the demo and benchmarks.

Library use (preferred; stops everything on exit, exception, SIGINT and SIGTERM):

    from cluster import Cluster
    with Cluster() as c:                 # primary + standby + physical slot on the standby
        c.primary_sql("CREATE TABLE t(id int primary key)")
        c.wait_standby_caught_up()
        print(c.standby_sql("SELECT count(*) FROM t"))

CLI use: see cluster.sh (`start DIR`, `stop DIR`, `env DIR`).

Layout of the data root (a mkdtemp under /tmp, owned by the server user):
    primary/  standby/  archive/  sock/  log/primary.log  log/standby.log
The servers run as the unprivileged user `postgres` (runuser) when we are root, else as the
current user. Ports are two free loopback ports, reserved in /tmp/pgtrickle-ports/ under a lock
so concurrent runs on one machine do not collide.
"""
from __future__ import annotations

import atexit
import fcntl
import os
import pwd
import random
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

PG_BIN = os.environ.get("PGT_PG_BIN", "/usr/lib/postgresql/15/bin")
SERVER_USER = "postgres"
PORT_REGISTRY = "/tmp/pgtrickle-ports"
PORT_LOCK = "/tmp/pgtrickle-ports.lock"


class ClusterError(RuntimeError):
    pass


def _log(msg: str) -> None:
    print(f"[cluster] {msg}", file=sys.stderr, flush=True)


def _is_root() -> bool:
    return os.geteuid() == 0


def _server_user() -> str:
    return SERVER_USER if _is_root() else pwd.getpwuid(os.geteuid()).pw_name


def _clean_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PATH"] = PG_BIN + ":" + env.get("PATH", "/usr/bin:/bin")
    env["LC_ALL"] = "C"
    return env


def run_as_server_user(argv, check=True, capture=True, timeout=300, input_text=None):
    """Run a command as the server user (runuser when root), in its own session so a terminal
    Ctrl-C does not reach it (we stop servers ourselves, in order)."""
    full = list(argv)
    if _is_root():
        full = ["runuser", "-u", SERVER_USER, "--"] + full
    try:
        p = subprocess.run(full, env=_clean_env(), cwd="/", start_new_session=True,
                           stdin=subprocess.DEVNULL if input_text is None else None,
                           input=input_text, text=True, timeout=timeout,
                           stdout=subprocess.PIPE if capture else None,
                           stderr=subprocess.STDOUT if capture else None)
    except subprocess.TimeoutExpired as e:
        raise ClusterError(f"timed out after {timeout}s: {shlex.join(argv)}") from e
    if check and p.returncode != 0:
        raise ClusterError(f"command failed (exit {p.returncode}): {shlex.join(argv)}\n"
                           f"{p.stdout or ''}")
    return p


def pg_config_pkglibdir() -> str:
    out = subprocess.run([os.path.join(PG_BIN, "pg_config"), "--pkglibdir"], text=True,
                         stdout=subprocess.PIPE, check=True).stdout.strip()
    return out


def extension_library_installed() -> bool:
    try:
        return os.path.exists(os.path.join(pg_config_pkglibdir(), "pg_trickle.so"))
    except (OSError, subprocess.CalledProcessError):
        return False


# ---------------------------------------------------------------- port reservation

def _port_free(port: int) -> bool:
    # SO_REUSEADDR like the postmaster: TIME_WAIT leftovers do not block it, a listener does.
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        s.listen(1)
        return True
    except OSError:
        return False
    finally:
        s.close()


def reserve_ports(n: int, owner_dir: str, port_range: tuple[int, int] | None = None) -> list[int]:
    """Pick n free loopback ports (bind to 0, or at random in port_range = (low, high)), record
    them in the registry (file per port, holding the owner's data root) under a global flock.
    Entries whose owner dir is gone are stale and reclaimed.

    A server that is stopped and started again on its port (failover drills) needs a port
    outside the kernel's ephemeral range (ip_local_port_range): there, any client connection
    made meanwhile may get it as its local port and block the restart."""
    os.makedirs(PORT_REGISTRY, exist_ok=True)
    try:
        os.chmod(PORT_REGISTRY, 0o1777)
    except PermissionError:
        pass
    with open(PORT_LOCK, "a+") as lockf:
        fcntl.flock(lockf, fcntl.LOCK_EX)
        try:
            taken = set()
            for name in os.listdir(PORT_REGISTRY):
                path = os.path.join(PORT_REGISTRY, name)
                try:
                    with open(path) as f:
                        owner = f.read().strip()
                except OSError:
                    continue
                if owner and os.path.isdir(owner):
                    taken.add(int(name))
                else:
                    try:
                        os.unlink(path)
                    except OSError:
                        pass
            ports: list[int] = []
            rng = random.SystemRandom()
            for _ in range(200):
                if port_range is not None:
                    port = rng.randrange(port_range[0], port_range[1])
                else:
                    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    s.bind(("127.0.0.1", 0))
                    port = s.getsockname()[1]
                    s.close()
                if port in taken or port in ports or not _port_free(port):
                    continue
                ports.append(port)
                if len(ports) == n:
                    break
            if len(ports) < n:
                raise ClusterError("could not find free loopback ports")
            for p in ports:
                with open(os.path.join(PORT_REGISTRY, str(p)), "w") as f:
                    f.write(owner_dir)
            return ports
        finally:
            fcntl.flock(lockf, fcntl.LOCK_UN)


def release_ports(ports, owner_dir: str) -> None:
    for p in ports:
        path = os.path.join(PORT_REGISTRY, str(p))
        try:
            with open(path) as f:
                if f.read().strip() != owner_dir:
                    continue
            os.unlink(path)
        except OSError:
            pass


# ---------------------------------------------------------------- cleanup on exit / signals

_LIVE: "list[Cluster]" = []
_HANDLERS_INSTALLED = False
_CLEANUP_LOCK = threading.Lock()


def stop_all_clusters() -> None:
    with _CLEANUP_LOCK:
        for c in list(_LIVE):
            try:
                c.stop()
            except Exception as e:  # noqa: BLE001 - best effort at exit
                _log(f"cleanup of {c.data_root} failed: {e}")


def _signal_handler(signum, frame):  # noqa: ARG001
    _log(f"got signal {signum}; stopping clusters")
    # Restore defaults first so a second Ctrl-C is not swallowed.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    for hook in list(_SIGNAL_HOOKS):
        try:
            hook()
        except Exception as e:  # noqa: BLE001
            _log(f"signal hook failed: {e}")
    stop_all_clusters()
    raise SystemExit(128 + signum)


_SIGNAL_HOOKS: list = []


def add_signal_hook(fn) -> None:
    """Run fn (e.g. stop an engine or pgbench) before clusters are stopped on SIGINT/SIGTERM."""
    _SIGNAL_HOOKS.append(fn)


def _install_handlers() -> None:
    global _HANDLERS_INSTALLED
    if _HANDLERS_INSTALLED:
        return
    _HANDLERS_INSTALLED = True
    atexit.register(stop_all_clusters)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _signal_handler)
        signal.signal(signal.SIGTERM, _signal_handler)


# ---------------------------------------------------------------- the cluster

class Cluster:
    """A primary and (optionally) a streaming hot standby with a physical slot on the standby.

    data_root: where data lives; default a fresh mkdtemp under /tmp (removed on stop unless
      keep=True). If given, it is created (and wiped if `wipe`), and kept on stop unless keep=False.
    state_dir: where `env` is written (default data_root); when different, symlinks archive/,
      sock/, data/ there point into data_root.
    preload: 'auto' (pg_trickle in shared_preload_libraries iff pg_trickle.so is installed),
      True or False.
    """

    def __init__(self, data_root: str | None = None, state_dir: str | None = None,
                 with_standby: bool = True, slot: str | None = "pgtrickle_engine",
                 preload="auto", extra_conf: dict | None = None, keep: bool | None = None,
                 wipe: bool = False, cleanup_at_exit: bool = True):
        self._given_root = data_root
        self.data_root = data_root
        self.state_dir = state_dir
        self.with_standby = with_standby
        self.slot = slot if with_standby else None
        self.preload = preload
        self.extra_conf = dict(extra_conf or {})
        self.keep = keep if keep is not None else (data_root is not None)
        self.wipe = wipe
        self.cleanup_at_exit = cleanup_at_exit
        self.primary_port: int | None = None
        self.standby_port: int | None = None
        self.ports: list[int] = []
        self.started = False
        self.promoted = False
        self._stopped = False

    # ---- paths
    @property
    def primary_dir(self): return os.path.join(self.data_root, "primary")
    @property
    def standby_dir(self): return os.path.join(self.data_root, "standby")
    @property
    def archive_dir(self): return os.path.join(self.data_root, "archive")
    @property
    def sock_dir(self): return os.path.join(self.data_root, "sock")
    @property
    def log_dir(self): return os.path.join(self.data_root, "log")
    @property
    def primary_log(self): return os.path.join(self.log_dir, "primary.log")
    @property
    def standby_log(self): return os.path.join(self.log_dir, "standby.log")

    @staticmethod
    def dsn(port: int, dbname: str = "postgres", **extra) -> str:
        parts = [f"host=127.0.0.1", f"port={port}", f"user=postgres", f"dbname={dbname}"]
        parts += [f"{k}={v}" for k, v in extra.items()]
        return " ".join(parts)

    @property
    def primary_dsn(self): return self.dsn(self.primary_port)
    @property
    def standby_dsn(self): return self.dsn(self.standby_port) if self.standby_port else None

    # ---- lifecycle
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and exc_type not in (KeyboardInterrupt, SystemExit):
            self.print_logs()
        self.stop()
        return False

    def start(self) -> "Cluster":
        if self.cleanup_at_exit:
            _install_handlers()
        if self.data_root is None:
            self.data_root = tempfile.mkdtemp(prefix="pgtrickle-", dir="/tmp")
        else:
            self.data_root = os.path.abspath(self.data_root)
            if self.wipe and os.path.exists(self.data_root):
                self._kill_leftovers_in(self.data_root)
                shutil.rmtree(self.data_root)
            os.makedirs(self.data_root, exist_ok=True)
        if self.state_dir is None:
            self.state_dir = self.data_root
        self.state_dir = os.path.abspath(self.state_dir)
        os.makedirs(self.state_dir, exist_ok=True)
        for d in (self.archive_dir, self.sock_dir, self.log_dir):
            os.makedirs(d, exist_ok=True)
        os.chmod(self.data_root, 0o755)
        if _is_root():
            pw = pwd.getpwnam(SERVER_USER)
            for d in (self.data_root, self.archive_dir, self.sock_dir, self.log_dir):
                os.chown(d, pw.pw_uid, pw.pw_gid)
        if self.cleanup_at_exit:
            _LIVE.append(self)
        try:
            self.ports = reserve_ports(2 if self.with_standby else 1, self.data_root)
            self.primary_port = self.ports[0]
            self.standby_port = self.ports[1] if self.with_standby else None
            self._init_primary()
            if self.with_standby:
                self._init_standby()
            self.write_env()
            self.started = True
        except BaseException:
            self.print_logs()
            self.stop()
            raise
        _log(f"up: primary port {self.primary_port}"
             + (f", standby port {self.standby_port}" if self.with_standby else "")
             + f", data {self.data_root}")
        return self

    def _preload_enabled(self) -> bool:
        if self.preload == "auto":
            return extension_library_installed()
        return bool(self.preload)

    def _conf(self, port: int) -> str:
        archive_cmd = (f"test ! -f {self.archive_dir}/%f && cp %p {self.archive_dir}/%f")
        lines = {
            "port": str(port),
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.sock_dir}'",
            "wal_level": "logical",
            "hot_standby": "on",
            "hot_standby_feedback": "on",
            "max_wal_senders": "10",
            "max_replication_slots": "10",
            "wal_keep_size": "'64MB'",
            "archive_mode": "on",
            "archive_command": "'" + archive_cmd.replace("'", "''") + "'",
            "fsync": "off",
            "synchronous_commit": "on",
            "full_page_writes": "on",
            "track_commit_timestamp": "off",
            "log_line_prefix": "'%m [%p] %q%a '",
            "log_min_messages": "warning",
            "datestyle": "'iso, mdy'",
            "timezone": "'UTC'",
        }
        if self._preload_enabled():
            lines["shared_preload_libraries"] = "'pg_trickle'"
        for k, v in self.extra_conf.items():
            lines[k] = str(v)
        return "\n# --- pg_trickle test harness ---\n" + "".join(
            f"{k} = {v}\n" for k, v in lines.items())

    def _append(self, path: str, text: str) -> None:
        # The file is owned by the server user; root can append, a non-root user owns it.
        with open(path, "a") as f:
            f.write(text)

    def _pg_ctl_start(self, datadir: str, logfile: str) -> None:
        run_as_server_user([os.path.join(PG_BIN, "pg_ctl"), "-D", datadir, "-l", logfile,
                            "-w", "-t", "120", "start"], timeout=180)

    def _init_primary(self) -> None:
        run_as_server_user([os.path.join(PG_BIN, "initdb"), "-D", self.primary_dir,
                            "--locale=C", "-E", "UTF8", "-A", "trust", "-U", "postgres",
                            "--no-sync"], timeout=300)
        self._append(os.path.join(self.primary_dir, "postgresql.conf"),
                     self._conf(self.primary_port))
        self._append(os.path.join(self.primary_dir, "pg_hba.conf"),
                     "host replication all 127.0.0.1/32 trust\n")
        self._pg_ctl_start(self.primary_dir, self.primary_log)

    def _init_standby(self) -> None:
        run_as_server_user([os.path.join(PG_BIN, "pg_basebackup"), "-D", self.standby_dir,
                            "-h", "127.0.0.1", "-p", str(self.primary_port), "-U", "postgres",
                            "-X", "stream", "-c", "fast", "--no-sync"], timeout=300)
        conf = self._conf(self.standby_port)
        conf += ("primary_conninfo = '" + self.dsn(self.primary_port, application_name="standby")
                 + "'\n")
        self._append(os.path.join(self.standby_dir, "postgresql.conf"), conf)
        open(os.path.join(self.standby_dir, "standby.signal"), "w").close()
        if _is_root():
            pw = pwd.getpwnam(SERVER_USER)
            os.chown(os.path.join(self.standby_dir, "standby.signal"), pw.pw_uid, pw.pw_gid)
        self._pg_ctl_start(self.standby_dir, self.standby_log)
        self.wait_streaming()
        if self.slot:
            self.standby_sql("SELECT pg_create_physical_replication_slot(%s, true)", (self.slot,))

    def wait_streaming(self, timeout: float = 60) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            rows = self.primary_sql(
                "SELECT state FROM pg_stat_replication WHERE application_name = 'standby'")
            if rows and rows[0][0] == "streaming":
                return
            time.sleep(0.1)
        raise ClusterError(f"standby not streaming after {timeout}s (see {self.standby_log})")

    def write_env(self) -> None:
        env = {
            "PGT_PRIMARY_PORT": str(self.primary_port),
            "PGT_STANDBY_PORT": str(self.standby_port or ""),
            "PGT_PRIMARY_DSN": self.primary_dsn,
            "PGT_STANDBY_DSN": self.standby_dsn or "",
            "PGT_SLOT": self.slot or "",
            "PGT_ARCHIVE_DIR": self.archive_dir,
            "PGT_DATA_DIR": self.data_root,
            "PGT_SOCK_DIR": self.sock_dir,
            "PGT_LOG_DIR": self.log_dir,
        }
        with open(os.path.join(self.state_dir, "env"), "w") as f:
            for k, v in env.items():
                f.write(f"{k}={shlex.quote(v)}\n")
        if self.state_dir != self.data_root:
            for name, target in (("archive", self.archive_dir), ("sock", self.sock_dir),
                                 ("data", self.data_root), ("log", self.log_dir)):
                link = os.path.join(self.state_dir, name)
                if os.path.islink(link):
                    os.unlink(link)
                if not os.path.exists(link):
                    os.symlink(target, link)

    def _pids(self) -> list[int]:
        pids = []
        for d in (self.primary_dir, self.standby_dir) if self.data_root else ():
            pids += _postmaster_pid(d)
        return pids

    @staticmethod
    def _kill_leftovers_in(root: str) -> None:
        for d in ("primary", "standby"):
            for pid in _postmaster_pid(os.path.join(root, d)):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass

    def stop_server(self, datadir: str) -> None:
        """Stop one server: pg_ctl stop -m immediate, then fast, then SIGKILL leftovers."""
        if not os.path.exists(os.path.join(datadir, "postmaster.pid")):
            return
        pids = _postmaster_pid(datadir)
        for mode in ("immediate", "fast"):
            p = run_as_server_user([os.path.join(PG_BIN, "pg_ctl"), "-D", datadir, "-m", mode,
                                    "-w", "-t", "30", "stop"], check=False, timeout=60)
            if p.returncode == 0:
                break
        for pid in pids:
            _kill_wait(pid)

    def stop(self) -> None:
        if self._stopped or self.data_root is None:
            return
        self._stopped = True
        for d in (self.standby_dir, self.primary_dir):
            try:
                self.stop_server(d)
            except Exception as e:  # noqa: BLE001
                _log(f"stopping {d} failed: {e}")
        release_ports(self.ports, self.data_root)
        if self in _LIVE:
            _LIVE.remove(self)
        if not self.keep:
            shutil.rmtree(self.data_root, ignore_errors=True)
            if self.state_dir != self.data_root:
                for name in ("archive", "sock", "data", "log"):
                    link = os.path.join(self.state_dir, name)
                    if os.path.islink(link):
                        os.unlink(link)
        _log(f"stopped ({self.data_root}{' kept' if self.keep else ' removed'})")

    # ---- SQL helpers
    def connect(self, which: str = "primary", dbname: str = "postgres", **kw):
        import psycopg2
        port = self.primary_port if which == "primary" else self.standby_port
        conn = psycopg2.connect(self.dsn(port, dbname), **kw)
        return conn

    def _sql(self, which: str, sql: str, params=None, dbname: str = "postgres"):
        conn = self.connect(which, dbname)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall() if cur.description is not None else None
        finally:
            conn.close()

    def primary_sql(self, sql: str, params=None, dbname: str = "postgres"):
        """Run one statement on the primary in autocommit; return rows (list of tuples) or None."""
        return self._sql("primary", sql, params, dbname)

    def standby_sql(self, sql: str, params=None, dbname: str = "postgres"):
        """Run one statement on the standby in autocommit; return rows or None."""
        if not self.with_standby:
            raise ClusterError("this cluster has no standby")
        return self._sql("standby", sql, params, dbname)

    def primary_lsn(self) -> str:
        return self.primary_sql("SELECT pg_current_wal_lsn()")[0][0]

    def wait_standby_caught_up(self, timeout: float = 60, lsn: str | None = None) -> str:
        """Wait until the standby's replay LSN >= the primary's current LSN (or `lsn`)."""
        target = lsn or self.primary_lsn()
        deadline = time.time() + timeout
        while True:
            ok, replay = self.standby_sql(
                "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn, pg_last_wal_replay_lsn()::text",
                (target,))[0]
            if ok:
                return target
            if time.time() > deadline:
                raise ClusterError(f"standby replay {replay} < primary {target} after {timeout}s")
            time.sleep(0.05)

    def promote_standby(self, stop_primary: bool = True, timeout: float = 60) -> int:
        """Promote the standby (pg_ctl promote -w). Optionally stops the old primary first
        (immediate), as in a failover. Returns the standby's new timeline ID. After this,
        `primary_port` points at the promoted server and the cluster has no standby."""
        if stop_primary:
            self.stop_server(self.primary_dir)
        run_as_server_user([os.path.join(PG_BIN, "pg_ctl"), "-D", self.standby_dir, "-w",
                            "-t", str(int(timeout)), "promote"], timeout=timeout + 30)
        deadline = time.time() + timeout
        while self._sql("standby", "SELECT pg_is_in_recovery()")[0][0]:
            if time.time() > deadline:
                raise ClusterError("standby still in recovery after promote")
            time.sleep(0.1)
        walfile = self._sql("standby", "SELECT pg_walfile_name(pg_current_wal_lsn())")[0][0]
        tli = int(walfile[:8], 16)
        self.promoted = True
        self.old_primary_port = self.primary_port
        self.primary_port, self.standby_port = self.standby_port, None
        self.with_standby = False
        self.write_env()
        return tli

    # ---- diagnostics
    def print_logs(self, lines: int = 60) -> None:
        if not self.data_root:
            return
        for path in (self.primary_log, self.standby_log):
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    tail = f.readlines()[-lines:]
                print(f"----- last {len(tail)} lines of {path} -----", file=sys.stderr)
                sys.stderr.write("".join(tail))
                print("-----", file=sys.stderr, flush=True)


def _postmaster_pid(datadir: str) -> list[int]:
    try:
        with open(os.path.join(datadir, "postmaster.pid")) as f:
            first = f.readline().strip()
        return [int(first)] if first.isdigit() else []
    except (OSError, ValueError):
        return []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is not alive for our purpose.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return False


def _kill_wait(pid: int, timeout: float = 10) -> None:
    if not _alive(pid):
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        return
    deadline = time.time() + timeout
    while _alive(pid) and time.time() < deadline:
        time.sleep(0.05)


# ---------------------------------------------------------------- CLI (used by cluster.sh)

def _read_env(state_dir: str) -> dict:
    path = os.path.join(state_dir, "env")
    env = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("=")
            env[k] = shlex.split(v)[0] if v else ""
    return env


def main(argv=None) -> int:
    import argparse
    ap = argparse.ArgumentParser(description="pg_trickle test cluster (primary + hot standby)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("start", help="start servers; they keep running after this exits")
    s.add_argument("dir", help="state dir: env file + symlinks (archive, sock, data, log)")
    s.add_argument("--data-root", help="data root (default: mkdtemp under /tmp)")
    s.add_argument("--no-standby", action="store_true", help="primary only")
    s.add_argument("--slot", default="pgtrickle_engine")
    s.add_argument("--preload", choices=["auto", "yes", "no"], default="auto")
    s.add_argument("--set", action="append", default=[], metavar="GUC=VALUE",
                   help="extra postgresql.conf setting (repeatable)")
    t = sub.add_parser("stop", help="stop the servers of DIR and remove their data")
    t.add_argument("dir")
    t.add_argument("--keep", action="store_true", help="keep the data root")
    e = sub.add_parser("env", help="print DIR/env (shell-sourceable)")
    e.add_argument("dir")
    a = ap.parse_args(argv)

    if a.cmd == "start":
        extra = {}
        for kv in a.set:
            k, _, v = kv.partition("=")
            extra[k.strip()] = v.strip()
        preload = {"auto": "auto", "yes": True, "no": False}[a.preload]
        c = Cluster(data_root=a.data_root, state_dir=a.dir, with_standby=not a.no_standby,
                    slot=a.slot, preload=preload, extra_conf=extra, keep=True,
                    cleanup_at_exit=False)
        try:
            c.start()
        except BaseException:
            c.keep = False
            c.stop()
            raise
        with open(os.path.join(a.dir, "env")) as f:
            sys.stdout.write(f.read())
        return 0
    if a.cmd == "stop":
        try:
            env = _read_env(a.dir)
        except FileNotFoundError:
            _log(f"no {a.dir}/env: nothing to stop")
            return 0
        c = Cluster(data_root=env["PGT_DATA_DIR"], state_dir=a.dir, keep=a.keep,
                    cleanup_at_exit=False)
        c.ports = [int(p) for p in (env.get("PGT_PRIMARY_PORT"), env.get("PGT_STANDBY_PORT"))
                   if p]
        # promote_standby may have swapped roles: stop both data dirs regardless.
        c.stop()
        try:
            os.unlink(os.path.join(a.dir, "env"))
        except OSError:
            pass
        return 0
    if a.cmd == "env":
        with open(os.path.join(a.dir, "env")) as f:
            sys.stdout.write(f.read())
        return 0
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ClusterError as e:
        _log(f"ERROR: {e}")
        sys.exit(1)

"""The container images' build steps are the scripts CI runs (no container runtime here):

- deploy/images/build-extension.sh builds the extension with PGXS and stages pg_trickle.so,
  the control file and the SQL scripts under a DESTDIR, as the PostgreSQL image's build stage does;
- deploy/images/build-engine.sh builds and installs a working pgtrickle-engine (reusing the CI
  build tree), as the engine image's build stage does;
- the Dockerfiles call exactly these scripts, and the PostgreSQL image is CNPG-shaped
  (CNPG base image, final USER 26).
Usage: /usr/bin/python3 check_images.py --build-dir BUILD --pg-config PG_CONFIG
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IMAGES = os.path.join(REPO, "deploy", "images")


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def run(argv):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    if p.returncode != 0:
        fail(f"{' '.join(argv)} failed (rc={p.returncode}):\n{p.stdout[-3000:]}{p.stderr[-3000:]}")
    return p.stdout


# In debian:bookworm-slim already (apt itself depends on them).
SLIM_BASE = {"libc6", "libstdc++6", "libgcc-s1"}


def package_of(path):
    """The Debian package owning a library file (dpkg knows /lib or /usr/lib, as packaged)."""
    real = os.path.realpath(path)
    for cand in dict.fromkeys([path, real, re.sub(r"^/usr/lib/", "/lib/", real),
                               re.sub(r"^/lib/", "/usr/lib/", real)]):
        p = subprocess.run(["dpkg", "-S", cand], capture_output=True, text=True)
        if p.returncode == 0:
            return p.stdout.split(":")[0].strip()
    fail(f"no Debian package owns {path}")


def check_runtime_packages(binary, dockerfile):
    """Every library the engine links directly (DT_NEEDED) comes from a Debian package that the
    runtime stage installs (or the slim base has): a library added to the build but not to the
    image would make the image's engine fail at start."""
    m = re.search(r"FROM debian:bookworm-slim(.*)", dockerfile, re.S)
    listed = set(SLIM_BASE)
    for cmd in re.findall(r"apt-get install(.*?)(?:&&|$)", m.group(1) if m else "", re.S):
        listed |= {t for t in cmd.replace("\\", " ").split() if not t.startswith("-")}
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", run(["readelf", "-d", binary]))
    resolved = dict(re.findall(r"^\s*(\S+) => (\S+)", run(["ldd", binary]), re.M))
    missing = []
    for lib in needed:
        path = resolved.get(lib)
        if not path:
            fail(f"engine links {lib}, which ldd does not resolve")
        pkg = package_of(path)
        if pkg not in listed:
            missing.append(f"{lib} ({pkg})")
    if missing:
        fail("engine/Dockerfile's runtime stage does not install the packages of " + ", ".join(missing))
    print(f"runtime libraries of the engine: {len(needed)}, all from packages the image installs")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--pg-config", required=True)
    a = ap.parse_args()
    with open(os.path.join(IMAGES, "postgres", "Dockerfile")) as f:
        pg = f.read()
    with open(os.path.join(IMAGES, "engine", "Dockerfile")) as f:
        eng = f.read()
    if "RUN deploy/images/build-extension.sh" not in pg:
        fail("postgres/Dockerfile does not build with deploy/images/build-extension.sh")
    if not re.search(r"ghcr\.io/cloudnative-pg/postgresql:", pg):
        fail("postgres/Dockerfile is not based on a CloudNativePG image")
    users = re.findall(r"^USER\s+(\S+)", pg, re.M)
    if not users or users[-1] != "26":
        fail(f"postgres/Dockerfile must end as USER 26 (CNPG's postgres uid), has {users}")
    if "RUN deploy/images/build-engine.sh" not in eng or "tools/install-deps.sh" not in eng:
        fail("engine/Dockerfile does not use tools/install-deps.sh + deploy/images/build-engine.sh")

    tmp = tempfile.mkdtemp(prefix="pgt-images-")
    try:
        staged = run([os.path.join(IMAGES, "build-extension.sh"), a.pg_config, os.path.join(tmp, "staging")])
        files = [os.path.basename(l) for l in staged.split()]
        for want in ("pg_trickle.so", "pg_trickle.control"):
            if want not in files:
                fail(f"build-extension.sh did not stage {want}: {files}")
        if not any(re.fullmatch(r"pg_trickle--[0-9.]+\.sql", f) for f in files):
            fail(f"build-extension.sh staged no install script: {files}")
        nm = run(["nm", "-D", "--defined-only", [l for l in staged.split() if l.endswith(".so")][0]])
        if "Pg_magic_func" not in nm:
            fail("staged pg_trickle.so is not a PostgreSQL module")
        binary = run([os.path.join(IMAGES, "build-engine.sh"), a.build_dir, os.path.join(tmp, "prefix")]).strip()
        out = run([binary, "--help"])
        if "--http-listen" not in out:
            fail("installed engine does not know --http-listen")
        check_runtime_packages(binary, eng)
        print(f"staged: {files}; engine: {binary}")
    finally:
        shutil.rmtree(tmp)
    print("PASS deploy_images")


if __name__ == "__main__":
    main()

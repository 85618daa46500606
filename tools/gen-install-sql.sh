#!/bin/bash
# Generates sql/pg_trickle--0.2.0.sql (full install) from the released 0.1.0 script and the
# 0.1.0 -> 0.2.0 upgrade script, so a fresh 0.2.0 install and an upgraded 0.1.0 install are
# the same catalog (tests/integration/test_upgrade.py compares them).
#   tools/gen-install-sql.sh           rewrite sql/pg_trickle--0.2.0.sql
#   tools/gen-install-sql.sh --check   exit 1 if it is out of date (CTest sql_install_script)
# Blocks other work appends to the 0.1.0 script (from a line "-- issue N additions" on) are not
# part of the released 0.1.0: move them into the upgrade script, then regenerate.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
gen() {
  sed -E '/^-- *(-- *)?issue [0-9]+ additions/,$d' "$repo/sql/pg_trickle--0.1.0.sql"
  echo
  echo '-- ==========================================================================='
  echo '-- 0.2.0 additions: exactly sql/pg_trickle--0.1.0--0.2.0.sql'
  echo '-- ==========================================================================='
  grep -v '^\\echo' "$repo/sql/pg_trickle--0.1.0--0.2.0.sql"
}
if grep -Eq '^-- *(-- *)?issue [0-9]+ additions' "$repo/sql/pg_trickle--0.1.0.sql"; then
  echo "sql/pg_trickle--0.1.0.sql has appended blocks (\"-- issue N additions\"): 0.1.0 is released;" \
       "move them to sql/pg_trickle--0.1.0--0.2.0.sql and run tools/gen-install-sql.sh" >&2
  [[ ${1:-} == --check ]] && exit 1
fi
if [[ ${1:-} == --check ]]; then
  if ! diff -u "$repo/sql/pg_trickle--0.2.0.sql" <(gen); then
    echo "sql/pg_trickle--0.2.0.sql is out of date: run tools/gen-install-sql.sh" >&2
    exit 1
  fi
  exit 0
fi
gen > "$repo/sql/pg_trickle--0.2.0.sql"

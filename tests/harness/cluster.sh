#!/usr/bin/env bash
# CLI wrapper around cluster.py.
#   cluster.sh start DIR [--no-standby] [--slot NAME] [--preload auto|yes|no] [--set GUC=VALUE]...
#       starts a PostgreSQL 15 primary + hot standby (physical slot on the standby); the servers
#       keep running; DIR/env is shell-sourceable (PGT_PRIMARY_PORT, PGT_STANDBY_PORT,
#       PGT_PRIMARY_DSN, PGT_STANDBY_DSN, PGT_SLOT, PGT_ARCHIVE_DIR, PGT_DATA_DIR, ...)
#   cluster.sh stop DIR [--keep]      stops them and removes the data root
#   cluster.sh env DIR                prints DIR/env
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ $# -lt 2 ]]; then
  sed -n '2,9p' "${BASH_SOURCE[0]}" >&2
  exit 2
fi
exec /usr/bin/python3 "$here/cluster.py" "$@"

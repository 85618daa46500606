#!/usr/bin/env bash
# Builds the pg_trickle extension from this repository with PGXS and installs it, optionally
# under a staging root. Used by deploy/images/postgres/Dockerfile and by CI
# (tests/deploy/check_images.py), so the image runs exactly what is tested.
#
#   deploy/images/build-extension.sh PG_CONFIG [DESTDIR]
#
# Installs pg_trickle.so into `pg_config --pkglibdir` and the control/SQL files into
# `pg_config --sharedir`/extension (prefixed by DESTDIR when given). Prints the installed files.
set -euo pipefail
PG_CONFIG=${1:?usage: build-extension.sh PG_CONFIG [DESTDIR]}
DESTDIR=${2:-}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
[[ -x $PG_CONFIG ]] || { echo "build-extension.sh: $PG_CONFIG is not executable" >&2; exit 2; }
make -C "$REPO/extension" PG_CONFIG="$PG_CONFIG" -j"$(nproc)" >&2
make -C "$REPO/extension" PG_CONFIG="$PG_CONFIG" install ${DESTDIR:+DESTDIR="$DESTDIR"} >&2
libdir=$("$PG_CONFIG" --pkglibdir)
sharedir=$("$PG_CONFIG" --sharedir)
ls -1 "$DESTDIR$libdir"/pg_trickle.so "$DESTDIR$sharedir"/extension/pg_trickle*

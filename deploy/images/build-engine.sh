#!/usr/bin/env bash
# Builds pgtrickle-engine from this repository with CMake and installs the binary. Used by
# deploy/images/engine/Dockerfile and by CI (tests/deploy/check_images.py).
#
#   deploy/images/build-engine.sh BUILD_DIR PREFIX
#
# An existing, configured BUILD_DIR is reused as it is (CI passes its own build tree); a new
# one is configured as Release. Installs PREFIX/bin/pgtrickle-engine and checks it runs.
set -euo pipefail
BUILD=${1:?usage: build-engine.sh BUILD_DIR PREFIX}
PREFIX=${2:?usage: build-engine.sh BUILD_DIR PREFIX}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if [[ ! -f $BUILD/CMakeCache.txt ]]; then
  cmake -S "$REPO" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >&2
fi
cmake --build "$BUILD" --target pgtrickle-engine -j"$(nproc)" >&2
install -D -m 0755 "$BUILD/engine/pgtrickle-engine" "$PREFIX/bin/pgtrickle-engine"
"$PREFIX/bin/pgtrickle-engine" --help >/dev/null
echo "$PREFIX/bin/pgtrickle-engine"

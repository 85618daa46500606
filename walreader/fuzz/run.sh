#!/usr/bin/env bash
# Builds the walreader libFuzzer targets with clang++-14 (-fsanitize=fuzzer,address,undefined;
# not through the main CMake build, which uses g++) into a temporary directory, makes seed corpora
# from tests/fixtures/basic.wal and runs each target for FUZZ_SECONDS seconds (default 20).
# Exit status: 0 = no finding, 1 = a crash/hang/leak/UB (the log tail, the reproducer path and its
# bytes are printed; the directory is kept), 77 = clang++-14 or its libFuzzer runtime is missing
# (tools/install-deps.sh installs clang-14 and libclang-rt-14-dev).
# Environment: FUZZ_SECONDS, FUZZ_TARGETS (default "xlog_reader record tuple"), FUZZ_CXX
# (default clang++-14), FUZZ_KEEP=1 keeps the work directory.
# Reproduce a finding: BUILD_DIR/bin/<target>_fuzz REPRODUCER
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
wr=$(dirname "$here")
seconds=${FUZZ_SECONDS:-20}
targets=${FUZZ_TARGETS:-"xlog_reader record tuple"}
cxx=${FUZZ_CXX:-clang++-14}
t0=$SECONDS

log() { printf '[walreader-fuzz] %s\n' "$*" >&2; }

if ! command -v "$cxx" >/dev/null 2>&1; then
  log "SKIP: $cxx not found (run tools/install-deps.sh)"
  exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/walreader-fuzz.XXXXXX")
keep=${FUZZ_KEEP:-0}
declare -A pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  [[ $keep == 1 ]] || rm -rf "$work"
}
trap cleanup EXIT

# Is libFuzzer's runtime there? (libclang-rt-14-dev on Debian 12)
printf 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }\n' \
  > "$work/probe.cc"
if ! "$cxx" -fsanitize=fuzzer,address,undefined "$work/probe.cc" -o "$work/probe" 2>"$work/probe.log"; then
  cat "$work/probe.log" >&2
  log "SKIP: $cxx cannot link -fsanitize=fuzzer,address,undefined (libclang-rt-14-dev missing?)"
  exit 77
fi

flags=(-std=c++20 -O1 -gline-tables-only -fno-omit-frame-pointer -fsanitize=address,undefined
       -fno-sanitize-recover=all -Wall -I"$wr/include" -I"$wr/src" -I"$here")
srcs=(status_lsn value crc32c xlog_reader record numeric pglz toast_lz4 tuple xact_parse jsonb text_format text_direct)
mkdir -p "$work/obj" "$work/bin" "$work/seeds" "$work/artifacts"
log "building in $work ($cxx, -j1)"
for s in "${srcs[@]}"; do
  if ! "$cxx" "${flags[@]}" -fsanitize=fuzzer-no-link -c "$wr/src/$s.cc" -o "$work/obj/$s.o"; then
    keep=1; log "FAIL: compiling src/$s.cc"; exit 1
  fi
done
for t in $targets; do
  if ! "$cxx" "${flags[@]}" -fsanitize=fuzzer "$here/${t}_fuzz.cc" "$work"/obj/*.o -llz4 \
       -o "$work/bin/${t}_fuzz"; then
    keep=1; log "FAIL: building ${t}_fuzz"; exit 1
  fi
done
log "built in $((SECONDS - t0)) s"

symbolizer=/usr/lib/llvm-14/bin/llvm-symbolizer
[[ -x $symbolizer ]] && export ASAN_SYMBOLIZER_PATH=$symbolizer
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# Seeds: the committed fixture WAL (pages, its records, the t_types tuples).
seedbin="$work/bin/record_fuzz"
[[ -x $seedbin ]] || "$cxx" "${flags[@]}" -fsanitize=fuzzer "$here/record_fuzz.cc" "$work"/obj/*.o -llz4 -o "$seedbin"
if ! PGT_FUZZ_SEEDS="$work/seeds" PGT_FUZZ_FIXTURE="$wr/tests/fixtures/basic.wal" "$seedbin"; then
  keep=1; log "FAIL: making seeds from tests/fixtures/basic.wal"; exit 1
fi

# The targets run concurrently (wall time = FUZZ_SECONDS, not three times it); each is
# single-threaded.
for t in $targets; do
  mkdir -p "$work/corpus/$t"
  extra=()
  [[ $t == xlog_reader ]] && extra=(-max_len=40000)
  log "running ${t}_fuzz for ${seconds} s ($(ls "$work/seeds/${t%_reader}" | wc -l) seeds)"
  "$work/bin/${t}_fuzz" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$work/artifacts/${t}-" "${extra[@]}" \
      "$work/corpus/$t" "$work/seeds/${t%_reader}" >"$work/$t.log" 2>&1 &
  pids[$t]=$!
done
failed=()
for t in $targets; do
  wait "${pids[$t]}"
  rc=$?
  unset "pids[$t]"
  if [[ $rc -ne 0 ]]; then
    failed+=("$t")
    keep=1
    log "FAIL: ${t}_fuzz exited with $rc; log $work/$t.log, last lines:"
    tail -n 80 "$work/$t.log" >&2
    for a in "$work/artifacts/${t}-"*; do
      [[ -e $a ]] || continue
      log "reproducer: $a ($(stat -c %s "$a") bytes); rerun: $work/bin/${t}_fuzz $a"
      od -An -tx1 -v "$a" | head -n 64 >&2
    done
  else
    log "ok: ${t}_fuzz: $(grep -E '^(stat::number_of_executed_units|Done)' "$work/$t.log" | tr '\n' ' ')"
  fi
done

log "total $((SECONDS - t0)) s"
if [[ ${#failed[@]} -ne 0 ]]; then
  log "FAILED: ${failed[*]} (work directory kept: $work)"
  exit 1
fi
exit 0

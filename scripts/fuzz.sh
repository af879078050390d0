#!/usr/bin/env bash
# Build the libFuzzer harnesses (tests/fuzz, clang, ASan+UBSan) and run each for a while.
#   scripts/fuzz.sh [--time SECONDS] [--runs N] [--build DIR] [--no-build] [parser...]
# Parsers: ini lmk obj ply image npy lmk7 crop_json eos face_model checkpoint mat (default: all).
# Each runs alone (one process, one job) for SECONDS (default 60) or N executions, whichever is given (both:
# whichever ends first), from tests/fuzz/corpus/<parser> plus what earlier runs found
# (DIR/corpus/<parser>, kept between runs). Crash inputs go to DIR/crashes/<parser>-*; re-run one
# with DIR/tests/fuzz/fuzz_<parser> FILE. Prints execs, exec/s, coverage and crashes per parser;
# The reproducers in tests/fuzz/crashes/<parser>-* are replayed first, as regression tests.
# Exits 1 when any parser or reproducer crashed (or leaked, or timed out), 2 on a usage error.
set -euo pipefail
cd "$(dirname "$0")/.."

all=(ini lmk obj ply image npy lmk7 crop_json eos face_model checkpoint mat)
time_s="" runs="" build=build-fuzz do_build=1 parsers=()
usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --time) [ $# -ge 2 ] || usage; time_s=$2; shift 2 ;;
    --runs) [ $# -ge 2 ] || usage; runs=$2; shift 2 ;;
    --build) [ $# -ge 2 ] || usage; build=$2; shift 2 ;;
    --no-build) do_build=0; shift ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) usage ;;
    *) [[ " ${all[*]} " == *" $1 "* ]] || { echo "fuzz.sh: unknown parser '$1'" >&2; usage; }
       parsers+=("$1"); shift ;;
  esac
done
for v in "$time_s" "$runs"; do
  [[ -z "$v" || "$v" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: '$v' is not a positive integer" >&2; exit 2; }
done
[ -n "$time_s$runs" ] || time_s=60
[ ${#parsers[@]} -gt 0 ] || parsers=("${all[@]}")

if [ "$do_build" = 1 ]; then
  command -v clang >/dev/null || { echo "fuzz.sh: clang is missing (scripts/install-deps.sh)" >&2; exit 1; }
  # Tests are left out: only the harnesses and the libraries they need are built.
  # The build's output (clang warns about more than gcc in the libraries) goes to a log, shown
  # only when the build fails.
  targets=()
  for p in "${parsers[@]}"; do targets+=(--target "fuzz_$p"); done
  mkdir -p "$build"
  if ! { CC=clang cmake -S . -B "$build" -DHRN_FUZZ=ON -DHRN_BUILD_TESTS=OFF \
           -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build "$build" -j2 "${targets[@]}"; } \
         >"$build/build.log" 2>&1; then
    tail -n 40 "$build/build.log" >&2
    echo "fuzz.sh: the build failed (all of it in $build/build.log)" >&2
    exit 1
  fi
fi

# Sanitizers stop at the first error; leaks count as crashes. The quarantine is ASan's default.
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
# One core per harness: the libraries' OpenMP/BLAS pools would only add threads.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

limits=()
[ -n "$time_s" ] && limits+=("-max_total_time=$time_s")
[ -n "$runs" ] && limits+=("-runs=$runs")
mkdir -p "$build/crashes" "$build/logs"
failed=0
printf '%-11s %10s %8s %6s %6s %7s %6s  %s\n' parser execs exec/s cov ft corpus secs result
for p in "${parsers[@]}"; do
  bin="$build/tests/fuzz/fuzz_$p"
  [ -x "$bin" ] || { echo "fuzz.sh: $bin is not built" >&2; exit 1; }
  work="$build/corpus/$p"
  mkdir -p "$work"
  dict=()
  [ -f "tests/fuzz/dict/$p.dict" ] && dict=("-dict=tests/fuzz/dict/$p.dict")
  log="$build/logs/$p.log"
  # The saved reproducers of crashes found before (tests/fuzz/crashes/<parser>-*) run first:
  # each one is a regression test for the defect it found.
  for r in tests/fuzz/crashes/"$p"-*; do
    [ -f "$r" ] || continue
    if "$bin" "$r" >"$build/logs/$p.repro.log" 2>&1; then
      printf '%-11s reproducer %s: fixed\n' "$p" "${r##*/}"
    else
      failed=1
      printf '%-11s reproducer %s: STILL CRASHES (%s)\n' "$p" "${r##*/}" \
        "$(grep -v 'Running\|Executed\|Seed\|Loaded' "$build/logs/$p.repro.log" | grep -m1 -oE 'ERROR: [A-Za-z]+: [a-zA-Z-]+|runtime error: .{0,60}|fuzz_[a-z_0-9]+: .{0,60}' || echo "see $build/logs/$p.repro.log")"
    fi
  done
  t0=$(date +%s)
  rc=0
  # New inputs go to the first corpus directory (the build's), never into the repository's seeds.
  # In-process, one job (-jobs=1 would fork a worker that logs to ./fuzz-0.log).
  "$bin" "${limits[@]}" "${dict[@]}" -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$build/crashes/$p-" "$work" "tests/fuzz/corpus/$p" >"$log" 2>&1 || rc=$?
  secs=$(( $(date +%s) - t0 ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
  result=ok
  if [ "$rc" != 0 ]; then
    failed=1
    what=$(grep -m1 -oE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer): [a-zA-Z-]+|runtime error: .*|==[0-9]+== ?ERROR: .*' "$log" || true)
    art=$(sed -n 's/.*Test unit written to \(.*\)/\1/p' "$log" | tail -1)
    result="CRASH (exit $rc) ${what:-see $log} ${art:+-> $art}"
  fi
  printf '%-11s %10s %8s %6s %6s %7s %6s  %s\n' "$p" "${execs:-?}" "${rate:-?}" "${cov:-?}" \
    "${ft:-?}" "${corp:-?}" "$secs" "$result"
done
[ "$failed" = 0 ] || { echo "fuzz.sh: a parser crashed; logs in $build/logs, inputs in $build/crashes" >&2; exit 1; }

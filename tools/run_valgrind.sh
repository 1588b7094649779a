#!/usr/bin/env bash
# Run the test suite under valgrind memcheck, one process per test file,
# VALGRIND_JOBS of them at a time (default: the number of cores).
#
#   tools/run_valgrind.sh                  # the whole suite
#   tools/run_valgrind.sh tests/test_tape.py tests/test_variable.py
#
# PYTHONMALLOC=malloc so memcheck sees every allocation; tools/valgrind.supp
# holds the interpreter's, loader's and NumPy's own baseline.  The refleak
# guard is off (--refleak=0:0): memcheck's leak check covers what it looks
# for, and its reruns would triple the time.  Tests marked fp_status_flags
# are deselected: they assert NumPy's overflow warnings, which come from the
# CPU's floating-point status flags, and valgrind does not emulate those.  Fails if any file's tests fail
# or any unsuppressed record has a tapegrad frame (tools/valgrind_report.py);
# other unsuppressed records are counted and left in the logs.
# Logs go to $VALGRIND_LOGS (default: $TMPDIR/tapegrad-valgrind).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
logs="${VALGRIND_LOGS:-${TMPDIR:-/tmp}/tapegrad-valgrind}"
jobs="${VALGRIND_JOBS:-$(nproc)}"
# the real interpreter: valgrind does not follow pyenv's shell shims
py="$(python -c 'import sys; print(sys.executable)')"
cd "$root"
[ $# -gt 0 ] || set -- tests/test_*.py
rm -rf "$logs" && mkdir -p "$logs"
export PYTHONMALLOC=malloc py logs root

run_one() {
    name="$(basename "$1" .py)"
    start=$(date +%s)
    status=0
    valgrind --suppressions="$root/tools/valgrind.supp" --leak-check=full \
        --show-leak-kinds=definite --errors-for-leak-kinds=definite \
        --num-callers=40 --log-file="$logs/$name.%p.vg" \
        "$py" -m pytest -q -p no:cacheprovider --refleak=0:0 \
        -m "not fp_status_flags" "$1" \
        > "$logs/$name.out" 2>&1 || status=$?
    echo "$(tail -n 1 "$logs/$name.out") [$1, $(( $(date +%s) - start )) s, exit $status]"
    [ "$status" -eq 0 ] || [ "$status" -eq 5 ] || touch "$logs/$name.FAILED"
}
export -f run_one
printf '%s\n' "$@" | xargs -P "$jobs" -I{} bash -c 'run_one "$@"' _ {}

failed=$(cd "$logs" && ls -- *.FAILED 2>/dev/null | sed 's/\.FAILED$//' || true)
verdict=0
python "$root/tools/valgrind_report.py" "$logs"/*.vg || verdict=1
if [ -n "$failed" ]; then
    echo "tests failed under valgrind in: $failed (see $logs/*.out)"
    verdict=1
fi
exit "$verdict"

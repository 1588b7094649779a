#!/usr/bin/env bash
# Coverage-guided fuzzing of the C extension with atheris + libFuzzer + ASan
# (+ UBSan), one harness after the other, in a scratch copy of the tree so
# the normal build is left alone (as run_asan.sh does).
#
# Usage: tools/run_fuzz.sh [seconds-per-harness] [harness...]
#   default 600 s each for every harness, fuzz/fuzz_*.py (fuzz_ops,
#   fuzz_tape)
#        tools/run_fuzz.sh minimize HARNESS FILE...
#   minimise crash reproducers (libFuzzer's -minimize_crash=1 -runs=3000)
#   under the same build; the smallest input that still fails is written
#   next to each FILE as FILE.min (any failure counts: check that it is
#   still the same one, FUZZ_VERBOSE=1 python fuzz/HARNESS.py FILE.min)
# Environment:
#   TAPEGRAD_FUZZ_DIR   where the growing corpus and crash artifacts live
#                       (default ~/.cache/tapegrad-fuzz); fuzz/corpus/<h>/
#                       (the committed seeds) is read, never written
#   FUZZ_ARGS           extra libFuzzer flags, e.g. "-seed=7"
#   FUZZ_MERGE=1        afterwards, merge the grown corpus and the seeds
#                       (edges only, hit counts ignored), then pick the 60
#                       inputs that together keep the most edges into
#                       $TAPEGRAD_FUZZ_DIR/seeds/<h>/ (fuzz/select_seeds.py):
#                       candidates for fuzz/corpus/<h>/.  With 0 seconds,
#                       only that.
# Exits nonzero if any harness crashed, hit a sanitizer report, an
# unexpected Python exception (SystemError, an empty message, ...), a
# timeout or the memory limit; the reproducer's path is printed.
#
# How the native coverage gets to libFuzzer: the extension is built with
# clang -fsanitize=address,undefined,fuzzer-no-link (TAPEGRAD_FUZZ=1).  The
# ASan runtime must be preloaded (python is not ASan-built), and a preloaded
# ASan exports weak copies of the __sanitizer_cov_* callbacks that would
# swallow the extension's coverage if libFuzzer came later inside atheris'
# own module.  So, as atheris' docs prescribe ("asan_with_fuzzer.so"), clang's
# libFuzzer and ASan archives are linked into one preloaded library; atheris
# sees LLVMFuzzerRunDriver already loaded and uses it ("Using preloaded
# libfuzzer"), and the extension's counters and atheris' Python counters
# feed the same libFuzzer.  The pip wheel of atheris does not ship that
# library (it is made only when atheris is built from source), hence the
# few lines below that make it.
#
# Fallback (no clang or no compiler-rt archives, e.g. apt-get unavailable):
# gcc's ASan build as in run_asan.sh, atheris' built-in libFuzzer, and
# Python-level coverage of the harnesses (FUZZ_PY_COVERAGE=1).  The C code
# is then exercised and checked by ASan but does not guide the mutations.
set -euo pipefail
secs="${1:-600}"
shift || true
harnesses=("$@")
src="$(cd "$(dirname "$0")/.." && pwd)"
minimize=()
if [ "$secs" = minimize ]; then
    [ ${#harnesses[@]} -ge 2 ] || {
        echo "usage: tools/run_fuzz.sh minimize HARNESS FILE..." >&2; exit 2; }
    for f in "${harnesses[@]:1}"; do
        minimize+=("$(cd "$(dirname "$f")" && pwd)/$(basename "$f")")
    done
    harnesses=("${harnesses[0]}")
    secs=0
elif [ ${#harnesses[@]} -eq 0 ]; then   # every harness there is
    for f in "$src"/fuzz/fuzz_*.py; do
        harnesses+=("$(basename "$f" .py)")
    done
fi
fuzzdir="${TAPEGRAD_FUZZ_DIR:-$HOME/.cache/tapegrad-fuzz}"
py="$(python -c 'import sys; print(sys.executable)')"  # not a shim script
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

python -c "import atheris" 2>/dev/null || python -m pip install -q atheris

if ! command -v clang >/dev/null && command -v apt-get >/dev/null &&
        [ "$(id -u)" = 0 ]; then
    apt-get update -q >/dev/null &&
        apt-get install -y -q clang libclang-rt-14-dev >/dev/null || true
fi
mode=native
rt=""
if command -v clang >/dev/null; then
    rt="$(clang -print-resource-dir)/lib/linux"
    arch="$(uname -m)"
    [ -f "$rt/libclang_rt.fuzzer_no_main-$arch.a" ] &&
        [ -f "$rt/libclang_rt.asan-$arch.a" ] || mode=fallback
else
    mode=fallback
fi

git -C "$src" ls-files -z | (cd "$src" && xargs -0 cp --parents -t "$work")
# harnesses and seeds not committed yet are fuzzed too
cp -r "$src/fuzz" "$work/"
cd "$work"
if [ "$mode" = native ]; then
    # asan_with_fuzzer.so: libFuzzer + ASan (its UBSan handlers included),
    # minus ASan's .preinit_array object, which a shared library cannot have
    cp "$rt/libclang_rt.asan-$arch.a" asan.a
    ar d asan.a asan_preinit.cpp.o 2>/dev/null || true
    clang++ -shared -o asan_with_fuzzer.so -Wl,--whole-archive \
        "$rt/libclang_rt.fuzzer_no_main-$arch.a" asan.a \
        -Wl,--no-whole-archive -lpthread -ldl
    CC=clang LDSHARED="clang -shared" TAPEGRAD_FUZZ=1 TAPEGRAD_ASAN=1 \
        TAPEGRAD_DEBUG=1 python setup.py -q build_ext --inplace >build.log 2>&1 ||
        { cat build.log; exit 1; }
    nm tapegrad/_tapegrad*.so >symbols.txt
    if ! grep -q __sanitizer_cov_8bit_counters_init symbols.txt; then
        echo "run_fuzz: the build has no coverage counters; falling back" >&2
        mode=fallback
    fi
    preload="$work/asan_with_fuzzer.so"
fi
if [ "$mode" = fallback ]; then
    TAPEGRAD_ASAN=1 TAPEGRAD_DEBUG=1 python setup.py -q build_ext --inplace \
        >build.log 2>&1 || { cat build.log; exit 1; }
    preload="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
    export FUZZ_PY_COVERAGE=1
fi
[ ${#minimize[@]} -gt 0 ] ||
    echo "run_fuzz: $mode coverage, ${secs}s per harness, corpus in $fuzzdir"

status=0
# the regular suite replays the corpus with fuzzlib's pure-Python decoder:
# it must read bytes exactly as atheris does
"$py" "$src/fuzz/check_provider.py"

for h in "${harnesses[@]}"; do
    corpus="$fuzzdir/$h"
    art="$fuzzdir/artifacts/$h/"
    mkdir -p "$corpus" "$art" "$src/fuzz/corpus/$h"
    log="$fuzzdir/$h.log"
    # -rss_limit_mb: a leak or an unbounded allocation; ASan refuses single
    # allocations over 128 MiB (allocator_may_return_null -> MemoryError,
    # the expected outcome for absurd sizes) before libFuzzer's malloc
    # limit sees them: filling and differentiating a larger tensor takes
    # seconds under ASan at -O0 (a 10**8-element float16 fill hit the 30 s
    # timeout) and proves nothing more.
    # -len_control=0: an input needs a few dozen bytes to reach past
    # argument checking, so don't spend the run on 4-byte inputs first.
    # fast_unwind_on_fatal: a call through a freed object jumps to a wild
    # pc, where ASan's slow unwinder crashes inside the SEGV handler before
    # libFuzzer writes the input out.
    sanitized() {
        PYTHONPATH="$work" PYTHONMALLOC=malloc LD_PRELOAD="$preload" \
        ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:allocator_may_return_null=1:max_allocation_size_mb=128:quarantine_size_mb=64:fast_unwind_on_fatal=1 \
        UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 "$py" "$@"
    }
    run() {
        sanitized "fuzz/$h.py" -timeout=30 -rss_limit_mb=4096 \
            -malloc_limit_mb=1024 -max_len=512 -artifact_prefix="$art" "$@"
    }
    if [ ${#minimize[@]} -gt 0 ]; then
        for f in "${minimize[@]}"; do
            rm -rf "$work/min" && mkdir "$work/min"
            run -minimize_crash=1 -runs=3000 -artifact_prefix="$work/min/" \
                "$f" >"$fuzzdir/$h.minimize.log" 2>&1 || true
            best="$(ls -S "$work"/min/minimized-from-* 2>/dev/null | tail -1)"
            if [ -n "$best" ]; then
                cp "$best" "$f.min"
                echo "run_fuzz: $f: $(stat -c %s "$f") -> $(stat -c %s \
                    "$f.min") bytes in $f.min"
            else
                echo "run_fuzz: $f: not minimised (does it fail?), log" \
                    "$fuzzdir/$h.minimize.log" >&2
                status=1
            fi
        done
        continue
    fi
    rc=0
    if [ "$secs" != 0 ]; then
        set +e
        run -max_total_time="$secs" -len_control=0 -print_final_stats=1 \
            ${FUZZ_ARGS:-} "$corpus" "$src/fuzz/corpus/$h" >"$log" 2>&1
        rc=$?
        set -e
    fi
    if [ "${FUZZ_MERGE:-}" = 1 ]; then
        rm -rf "$fuzzdir/merged/$h" "$fuzzdir/seeds/$h"
        mkdir -p "$fuzzdir/merged/$h"
        run -merge=1 -use_counters=0 -use_value_profile=0 \
            "$fuzzdir/merged/$h" "$src/fuzz/corpus/$h" "$corpus" \
            >"$fuzzdir/$h.merge.log" 2>&1 || true
        echo "run_fuzz: $h: $(grep -E '^MERGE-OUTER: [0-9]+ new files' \
            "$fuzzdir/$h.merge.log" | tail -1)"
        sanitized fuzz/select_seeds.py --max 60 "$h" "$fuzzdir/seeds/$h" \
            "$fuzzdir/merged/$h" 2>"$fuzzdir/$h.select.log" |
            tail -1 | sed "s/^/run_fuzz: $h: /"
    fi
    [ "$secs" != 0 ] || continue
    last="$(grep -E '^#[0-9]+' "$log" | tail -1 || true)"
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")"
    echo "run_fuzz: $h exit $rc, ${execs:-?} executions; last: $last"
    if [ $rc -ne 0 ]; then
        status=1
        grep -E "ERROR: |SUMMARY: |Uncaught Python exception|Test unit written" \
            "$log" | head -20 >&2 || true
        echo "run_fuzz: $h FAILED, full log $log" >&2
    fi
done
exit $status

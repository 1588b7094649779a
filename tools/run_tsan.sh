#!/usr/bin/env bash
# Run the thread tests (or the given pytest args) against a ThreadSanitizer
# build of the extension, in a scratch copy of the tree so the normal build
# is left alone.  Usage: tools/run_tsan.sh [pytest args...]
#
# What it proves: the kernels that run without the GIL (TG_NOGIL_MIN and
# up: NumPy's float loops, matmul, the optimizers' updates) touch nothing
# another thread writes meanwhile.  Only the extension is instrumented;
# CPython's GIL is a pthread mutex and condition variable, which TSan's
# runtime intercepts, so what the GIL orders is seen as ordered.  NumPy
# and OpenBLAS are not instrumented: a race inside them would not be seen
# (their own thread tests cover them).  Any report fails the run.
set -euo pipefail
. "$(dirname "$0")/scratch_tree.sh"
TAPEGRAD_TSAN=1 python setup.py -q build_ext --inplace
# the interpreter itself: `python` may be a wrapper script (pyenv's shim),
# and the TSan runtime preloaded into bash crashes it
py="$(python -c 'import sys; print(sys.executable)')"
if [ "$#" -eq 0 ]; then
    set -- tests/test_threads.py
fi
# one BLAS thread: OpenBLAS's own (uninstrumented) pool is not what is
# being checked; halt_on_error makes any report fail the run
PYTHONPATH="$work" OPENBLAS_NUM_THREADS=1 \
LD_PRELOAD="$(gcc -print-file-name=libtsan.so)" \
TSAN_OPTIONS="halt_on_error=1:exitcode=66:report_signal_unsafe=0" \
"$py" -m pytest -q -p no:cacheprovider -p no:faulthandler "$@"

#!/usr/bin/env bash
# Run the test suite (notebooks excepted) against an AddressSanitizer +
# UBSan build of the extension, in a scratch copy of the tree so the normal
# build is left alone.  Usage: tools/run_asan.sh [pytest args...]
# Any sanitizer report stops the run (halt_on_error) and fails it.
set -euo pipefail
. "$(dirname "$0")/scratch_tree.sh"
TAPEGRAD_ASAN=1 TAPEGRAD_DEBUG=1 python setup.py -q build_ext --inplace
# PYTHONMALLOC=malloc: pymalloc's arenas would hide out-of-bounds accesses;
# a small quarantine keeps the RSS-based memory tests meaningful.
PYTHONPATH="$work" PYTHONMALLOC=malloc \
LD_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)" \
ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:allocator_may_return_null=1:max_allocation_size_mb=4096:quarantine_size_mb=8 \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
python -m pytest -q -p no:cacheprovider -s \
    --ignore=tests/test_notebooks.py --ignore=tests/test_nbcheck.py "$@"

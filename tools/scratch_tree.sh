# Sourced by the sanitizer scripts (run_asan.sh, run_tsan.sh): copy the
# tracked files of this checkout, as they are in the work tree, to a
# fresh temporary folder that is removed on exit, and cd there, so an
# instrumented build leaves the normal one alone.
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
git -C "$src" ls-files -z | (cd "$src" && xargs -0 cp --parents -t "$work")
cd "$work"

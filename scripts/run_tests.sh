#!/usr/bin/env bash
# Runs the test suites (ctest, any arguments passed on) and then checks that
# they cleaned up after themselves: every test runs with TMPDIR set to a
# fresh folder in the build tree, which must be empty afterwards, and no
# process started from the build tree or in that folder may still be running.
# Leftovers fail the run, are listed, and are removed (processes killed).
# SQLite's own temporary files go to another folder (SQLITE_TMPDIR): SQLite
# unlinks each right after opening it, so only a process killed in between
# (the crash tests' SIGKILL) leaves one, and that is not the test's doing.
#
#   scripts/run_tests.sh BUILD_DIR [ctest arguments...]
set -uo pipefail

build_dir=$(cd "${1:?usage: run_tests.sh BUILD_DIR [ctest args]}" && pwd)
shift
tmp="$build_dir/test-tmp"
sqlite_tmp="$build_dir/test-sqlite-tmp"
rm -rf "$tmp" "$sqlite_tmp"
mkdir -p "$tmp" "$sqlite_tmp"

TMPDIR="$tmp" SQLITE_TMPDIR="$sqlite_tmp" ctest --test-dir "$build_dir" "$@"
status=$?

# Processes whose command line names the build tree or the test folder.
leftover_processes() {
  pgrep -a -f -- "$build_dir/|$tmp" | grep -v -E "^$$ |run_tests.sh|pgrep" || true
}

procs=$(leftover_processes)
if [[ -n "$procs" ]]; then
  echo "run_tests: processes left running after the tests (a test that starts a process must stop it):" >&2
  echo "$procs" >&2
  echo "$procs" | awk '{print $1}' | xargs -r kill -TERM 2>/dev/null
  sleep 2
  echo "$procs" | awk '{print $1}' | xargs -r kill -KILL 2>/dev/null
  status=1
fi

left=$(find "$tmp" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort)
if [[ -n "$left" ]]; then
  echo "run_tests: files left in the temporary folder $tmp (a test must remove what it creates):" >&2
  echo "$left" | sed 's/^/  /' >&2
  status=1
fi
rm -rf "$tmp" "$sqlite_tmp"
exit $status

#!/usr/bin/env bash
# test.sh - the README's test command: set up, build native + managed code, run every test.
#
# Runs the native CTest tests, then the xunit suite, and ends with one plain line
# "tests: N passed, N failed, N skipped". Exits non-zero on any failure.
# Environment: WCFS_TEST_FILTER (a dotnet test --filter expression) narrows the xunit run.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

bash scripts/setup.sh

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
dotnet build wcfs-actors.sln -c Release -nologo -clp:NoSummary -v:q

echo "== native tests (ctest)"
ctest --test-dir Wcfs.Native/native/build/Release --output-on-failure --timeout 300 # each test also has its own TIMEOUT (CMakeLists.txt)

source scripts/postgres.sh
pg_start
trap 'pg_stop' EXIT

echo "== managed tests (xunit)"
out="$root/.test-out"
rm -rf "$out"; mkdir -p "$out"
filter=()
[ -n "${WCFS_TEST_FILTER:-}" ] && filter=(--filter "$WCFS_TEST_FILTER")
set +e
dotnet test wcfs-actors.sln -c Release --no-build -nologo "${filter[@]}" \
  --logger "trx;LogFileName=results.trx" --results-directory "$out" \
  --logger "console;verbosity=normal" --blame-hang-timeout 10m
rc=$?
set -e

trx="$out/results.trx"
if [ -f "$trx" ]; then
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  get() { echo "$counters" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*'; }
  passed=$(get passed); failed=$(get failed); total=$(get total); executed=$(get executed)
  skipped=$(( total - executed ))
  if [ "${failed:-0}" != 0 ]; then
    # The failed tests again, at the end where a CI log's tail shows them: name and first lines of
    # the message (the full text is in the console output above and in the .trx file).
    echo "== failed tests"
    awk '
      /<UnitTestResult / && /outcome="Failed"/ { match($0, /testName="[^"]*"/); name = substr($0, RSTART + 10, RLENGTH - 11); want = 1; next }
      want && /<Message>/ { sub(/.*<Message>/, ""); print "FAILED " name; n = 0; inmsg = 1 }
      inmsg { line = $0; done = sub(/<\/Message>.*/, "", line); if (n++ < 6) print "    " line; if (done) { inmsg = 0; want = 0 } }
    ' "$trx" | sed -e 's/&quot;/"/g' -e "s/&apos;/'/g" -e 's/&lt;/</g' -e 's/&gt;/>/g' -e 's/&amp;/\&/g'
  fi
  echo "tests: $passed passed, $failed failed, $skipped skipped"
else
  echo "tests: 0 passed, 1 failed (no results file: the test run did not start)"
  rc=1
fi
exit $rc

#!/usr/bin/env bash
# Builds the solution and runs every test (the ones needing etcd, root, netns or BPF included).
# Extra arguments go to 'dotnet test', e.g.: eng/test.sh --filter "Needs!=root"
# Ends with one line "Tests: N passed, N failed, N skipped"; exits non-zero when the build
# fails, a test fails, or no test ran.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

results_dir="$repo_root/artifacts/test-results"

summary() {
  echo "Tests: $1 passed, $2 failed, $3 skipped"
}

eng/install-deps.sh

echo "test: dotnet build Federation.sln -c Release"
if ! dotnet build Federation.sln -c Release; then
  echo "test: build failed" >&2
  summary 0 0 0
  exit 1
fi

rm -rf "$results_dir"
mkdir -p "$results_dir"

echo "test: dotnet test Federation.sln -c Release --no-build $*"
test_status=0
dotnet test Federation.sln -c Release --no-build \
  --results-directory "$results_dir" \
  --logger trx \
  --logger "console;verbosity=normal" \
  --blame-hang-timeout 15m --blame-hang-dump-type none \
  "$@" || test_status=$?

# xunit's skipped tests are counted in total but not in executed.
counter() { # counter NAME COUNTERS-ELEMENT
  sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" <<<"$2"
}

passed=0 failed=0 skipped=0
shopt -s nullglob
trx_files=("$results_dir"/*.trx)
for trx in "${trx_files[@]}"; do
  counters=$(grep -o '<Counters [^>]*>' "$trx" || true)
  if [[ -z $counters ]]; then
    echo "test: no <Counters> in $trx; counting the run as failed" >&2
    failed=$((failed + 1))
    continue
  fi
  passed=$((passed + $(counter passed "$counters")))
  failed=$((failed + $(counter failed "$counters") + $(counter error "$counters") \
    + $(counter timeout "$counters") + $(counter aborted "$counters")))
  skipped=$((skipped + $(counter total "$counters") - $(counter executed "$counters")))
done

exit_status=0
if ((${#trx_files[@]} == 0)); then
  echo "test: no TRX results in $results_dir" >&2
  exit_status=1
fi
if ((test_status != 0)); then
  echo "test: dotnet test exited with $test_status" >&2
  exit_status=1
fi
if ((failed > 0)); then
  exit_status=1
fi
if ((passed + failed == 0)); then
  echo "test: no test ran" >&2
  exit_status=1
fi

# The failed tests again, last, so that a log cut to its tail still names them.
if ((failed > 0)) && ((${#trx_files[@]} > 0)); then
  python3 - "${trx_files[@]}" <<'PY' || true
import sys
import xml.etree.ElementTree as ET

ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
for path in sys.argv[1:]:
    for result in ET.parse(path).getroot().iterfind(".//t:UnitTestResult", ns):
        if result.get("outcome") in ("Passed", "NotExecuted"):
            continue
        message = result.findtext("t:Output/t:ErrorInfo/t:Message", "", ns).strip()
        stack = result.findtext("t:Output/t:ErrorInfo/t:StackTrace", "", ns).strip().splitlines()
        print(f"test: FAILED {result.get('testName')} ({result.get('duration')})")
        for line in message.splitlines()[:12]:
            print(f"test:     {line}")
        for line in stack[:6]:
            print(f"test:     {line.strip()}")
PY
fi

echo "test: TRX results in $results_dir"
summary "$passed" "$failed" "$skipped"
exit "$exit_status"

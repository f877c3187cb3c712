#!/usr/bin/env bash
# Runs this folder's pipeline RUNS times (default 40) to build a history, making
# `compile`'s work 40% larger after two thirds of the runs. Uses the `baton` on
# PATH, or $BATON.
set -euo pipefail
cd "$(dirname "$0")"
baton=${BATON:-baton}
runs=${1:-40}
echo 100000 > src/workload
for i in $(seq 1 "$runs"); do
  if [ "$i" -eq $((runs * 2 / 3 + 1)) ]; then
    echo 140000 > src/workload
    echo "run $i: compile's workload is now 40% larger"
  fi
  "$baton" run --output quiet >/dev/null 2>&1 || true
  printf '.'
done
echo
echo 100000 > src/workload
echo "recorded $runs runs in $(pwd)/.baton/history.db"

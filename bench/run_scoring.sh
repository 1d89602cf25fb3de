#!/usr/bin/env bash
# Blocked vs built-in top-k scoring at the issue's size; results appended to
# bench/results/scoring.jsonl (one JSON line per method and run of this script).
# Run when the machine is quiet (check `uptime`): other Spark jobs distort the figures.
#
#   bench/run_scoring.sh                      # 50,000 users x 20,000 items, rank 64, k 10
#   USERS=5000 ITEMS=2000 bench/run_scoring.sh
set -euo pipefail
cd "$(dirname "$0")/.."

USERS=${USERS:-50000}
ITEMS=${ITEMS:-20000}
RANK=${RANK:-64}
K=${K:-10}
REPEATS=${REPEATS:-3}
VERIFY=${VERIFY:-1000}    # users whose top k is compared between the methods (0: none)
WORKDIR=${WORKDIR:-/tmp/lakerec-bench-scoring}
RECORD=${RECORD:-bench/results/scoring.jsonl}
LAKEREC=${LAKEREC:-.venv/bin/lakerec}

mkdir -p "$(dirname "$RECORD")"
echo "load before: $(uptime)"
for method in blocked builtin; do
    verify=0
    [[ $method == blocked ]] && verify=$VERIFY
    "$LAKEREC" bench scoring --users "$USERS" --items "$ITEMS" --rank "$RANK" --k "$K" \
        --method "$method" --repeats "$REPEATS" --verify-users "$verify" \
        --workdir "$WORKDIR" --record "$RECORD" --set spark.log_level=ERROR
done
echo "load after: $(uptime)"

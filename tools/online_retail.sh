#!/usr/bin/env bash
# The pipeline on the real Online Retail log (../shared/data/online_retail.parquet, or $DATA):
# ingest, quality, conform, features, segment, train on the time split, train again on the
# random stratified split (Microsoft Recommenders' protocol), evaluate, recommend.
# Everything goes under $WORKSPACE (workspace/online-retail); the run date is the log's last day.
#
#   tools/online_retail.sh            # every step
#   STEPS="segment" tools/online_retail.sh   # only some (names as below)
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DATA="${DATA:-$ROOT/../shared/data/online_retail.parquet}"
W="$(mkdir -p "${WORKSPACE:-workspace/online-retail}" && cd "${WORKSPACE:-workspace/online-retail}" && pwd)"
RUN_DATE=2011-12-09
STEPS="${STEPS:-ingest quality:bronze conform quality:silver features segment train train:random evaluate:random recommend}"
[[ -f "$DATA" ]] || { echo "no Online Retail log at $DATA (set DATA)" >&2; exit 2; }
mkdir -p "$W/landing/events"
cp -n "$DATA" "$W/landing/events/"
SETS=(--set "paths.root=$W/lake" --set "paths.landing=$W/landing"
      --set "paths.ground_truth=$W/ground_truth" --set "paths.checkpoint=$W/checkpoints"
      --set "paths.data_docs=$W/data_docs" --set "paths.artifacts=$W/artifacts"
      --set "mlflow.tracking_uri=sqlite:///$W/mlflow.db" --set "mlflow.artifact_location=$W/mlruns")
for spec in $STEPS; do
    step="${spec%%:*}"; arg="${spec#*:}"; extra=()
    [[ "$spec" == quality:* ]] && extra=(--layer "$arg")
    [[ "$spec" == *:random && "$step" != quality ]] && extra=(--set recommend.split.protocol=random)
    echo "=== $spec"
    start=$SECONDS
    "$ROOT/.venv/bin/lakerec" "$step" --conf conf/local.yaml --run-date "$RUN_DATE" \
        "${SETS[@]}" "${extra[@]}" || { echo "=== $spec failed" >&2; exit 1; }
    echo "=== $spec: $((SECONDS - start)) s wall"
done
echo "tables under $W/lake; MLflow: .venv/bin/mlflow ui --backend-store-uri sqlite:///$W/mlflow.db"

#!/usr/bin/env bash
# A real Spark standalone cluster on this machine (127.0.0.1 only): one master and two
# workers from the pip-installed Spark in .venv, and the lakerec pipeline submitted to it as
# packaged jobs (spark-submit --py-files dist/lakerec.zip jobs/<step>.py).
#
#   tools/cluster.sh start      start master + 2 workers, wait until both workers registered
#   tools/cluster.sh stop       stop the processes this script started (pid files)
#   tools/cluster.sh status     which of them run
#   tools/cluster.sh pipeline   submit every step to the running master, in order
#   tools/cluster.sh demo       start, pipeline, print where the results are, stop (always)
#   tools/cluster.sh submit STEP [ARGS...]   submit one job
#
# Settings (environment): MASTER_PORT (7077), MASTER_WEBUI_PORT (8080; workers use the next
# two), WORKER_MEMORY (3g), EXECUTOR_MEMORY (1g), DRIVER_MEMORY (2g), CLUSTER_DIR (where pid
# files, logs and worker dirs go; workspace/cluster), DEMO_DIR (lake, landing and MLflow of the
# run; workspace/cluster-demo), CONF (conf/local.yaml), RUN_DATE (today, UTC), STEPS (the
# step list below; "run" is the whole pipeline as one application), RUN_ARGS (arguments of
# "run", e.g. "--skip generate --skip train" for the daily DAG's steps), LAKEREC_SETS (extra
# key=value config overrides, space-separated), SPARK_LOG_LEVEL (WARN), PYSPARK_PYTHON (the Python of the driver and executors; .venv/bin/python; it needs lakerec's
# dependencies but not lakerec itself, which comes from the zip).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="${VENV:-$ROOT/.venv}"
MASTER_PORT="${MASTER_PORT:-7077}"
MASTER_WEBUI_PORT="${MASTER_WEBUI_PORT:-8080}"
MASTER_URL="spark://127.0.0.1:${MASTER_PORT}"
WORKERS=2
WORKER_CORES=1
WORKER_MEMORY="${WORKER_MEMORY:-3g}"
EXECUTOR_MEMORY="${EXECUTOR_MEMORY:-1g}"
DRIVER_MEMORY="${DRIVER_MEMORY:-2g}"
CLUSTER_DIR="$(mkdir -p "${CLUSTER_DIR:-workspace/cluster}" && cd "${CLUSTER_DIR:-workspace/cluster}" && pwd)"
DEMO_DIR="$(mkdir -p "${DEMO_DIR:-workspace/cluster-demo}" && cd "${DEMO_DIR:-workspace/cluster-demo}" && pwd)"
CONF="${CONF:-conf/local.yaml}"
RUN_DATE="${RUN_DATE:-$(date -u +%F)}"
STEPS="${STEPS:-generate ingest quality:bronze conform quality:silver features segment train recommend quality:gold dp_report}"
LAKEREC_SETS="${LAKEREC_SETS:-}"
RUN_ARGS="${RUN_ARGS:-}"
export PYSPARK_PYTHON="${PYSPARK_PYTHON:-$VENV/bin/python}"
export PYSPARK_DRIVER_PYTHON="${PYSPARK_DRIVER_PYTHON:-$PYSPARK_PYTHON}"
export SPARK_LOCAL_IP=127.0.0.1
LOGS="$CLUSTER_DIR/logs"
ZIP="${LAKEREC_ZIP:-$ROOT/dist/lakerec.zip}"
DELTA_JARS_DIR="${DELTA_JARS_DIR:-$ROOT/.jars/delta}"

say() { echo "cluster: $*" >&2; }

pid_alive() {  # pid file, class name: true when the pid runs that Spark daemon
    local pid
    [[ -f "$1" ]] || return 1
    pid="$(cat "$1")"
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null \
        && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$2"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pid_exists() { kill -0 "$(cat "$1" 2>/dev/null)" 2>/dev/null; }

wait_for_log() {  # log file, pattern, wanted count, pid file, class, timeout s
    local deadline=$((SECONDS + $6))
    until [[ "$(grep -c "$2" "$1" 2>/dev/null || true)" -ge "$3" ]]; do
        # whether the process is gone, not pid_alive: while spark-class execs java, its
        # /proc/<pid>/cmdline can read empty, and a live master was once taken for an exited
        # one (CI, 2026-12-05; the stop that followed found it running)
        if ! pid_exists "$4"; then
            say "$5 exited; last lines of $1:"; tail -n 20 "$1" >&2; return 1
        fi
        if ((SECONDS > deadline)); then
            say "timed out waiting for '$2' in $1"; tail -n 20 "$1" >&2; return 1
        fi
        sleep 1
    done
}

start_daemon() {  # name, class, args...
    local name="$1" class="$2"; shift 2
    nohup "$VENV/bin/spark-class" "$class" "$@" >"$LOGS/$name.log" 2>&1 &
    echo $! >"$CLUSTER_DIR/$name.pid"
}

start() {
    mkdir -p "$LOGS"
    if pid_alive "$CLUSTER_DIR/master.pid" deploy.master.Master; then
        say "already running (master pid $(cat "$CLUSTER_DIR/master.pid")); 'stop' first"; return 1
    fi
    for port in "$MASTER_PORT" "$MASTER_WEBUI_PORT"; do
        if port_in_use "$port"; then say "port $port on 127.0.0.1 is taken"; return 1; fi
    done
    start_daemon master org.apache.spark.deploy.master.Master \
        --host 127.0.0.1 --port "$MASTER_PORT" --webui-port "$MASTER_WEBUI_PORT"
    wait_for_log "$LOGS/master.log" "I have been elected leader" 1 \
        "$CLUSTER_DIR/master.pid" deploy.master.Master 90
    for i in $(seq 1 "$WORKERS"); do
        mkdir -p "$CLUSTER_DIR/work/worker-$i"
        start_daemon "worker-$i" org.apache.spark.deploy.worker.Worker "$MASTER_URL" \
            --host 127.0.0.1 --cores "$WORKER_CORES" --memory "$WORKER_MEMORY" \
            --webui-port "$((MASTER_WEBUI_PORT + i))" --work-dir "$CLUSTER_DIR/work/worker-$i"
    done
    for i in $(seq 1 "$WORKERS"); do
        wait_for_log "$LOGS/worker-$i.log" "Successfully registered with master" 1 \
            "$CLUSTER_DIR/worker-$i.pid" deploy.worker.Worker 90
    done
    say "master $MASTER_URL (UI http://127.0.0.1:$MASTER_WEBUI_PORT) with $WORKERS workers" \
        "of $WORKER_CORES core and $WORKER_MEMORY; logs in $LOGS"
}

stop_daemon() {  # name, class
    local file="$CLUSTER_DIR/$1.pid" pid
    if pid_alive "$file" "$2"; then
        pid="$(cat "$file")"
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
        say "stopped $1 (pid $pid)"
    fi
    rm -f "$file"
}

stop() {
    for i in $(seq 1 "$WORKERS"); do stop_daemon "worker-$i" deploy.worker.Worker; done
    stop_daemon master deploy.master.Master
}

status() {
    local name class rc=0
    for name in master $(for i in $(seq 1 "$WORKERS"); do echo "worker-$i"; done); do
        class=deploy.worker.Worker; [[ "$name" == master ]] && class=deploy.master.Master
        if pid_alive "$CLUSTER_DIR/$name.pid" "$class"; then
            echo "$name: running (pid $(cat "$CLUSTER_DIR/$name.pid"))"
        else
            echo "$name: stopped"; rc=1
        fi
    done
    return "$rc"
}

submit_app() {  # application file, job arguments...
    local app="$1"; shift
    [[ -f "$ZIP" ]] || { say "$ZIP is missing: run 'make dist'"; return 1; }
    local jars; jars="$(ls "$DELTA_JARS_DIR"/*.jar 2>/dev/null | paste -sd, -)"
    [[ -n "$jars" ]] || { say "no Delta jars in $DELTA_JARS_DIR: run 'make jars'"; return 1; }
    local sets=(
        --set spark.master=null --set spark.delta_jars_dir= --set spark.delta_package=
        --set "paths.root=$DEMO_DIR/lake" --set "paths.landing=$DEMO_DIR/landing"
        --set "paths.ground_truth=$DEMO_DIR/ground_truth"
        --set "paths.checkpoint=$DEMO_DIR/checkpoints"
        --set "paths.data_docs=$DEMO_DIR/data_docs" --set "paths.artifacts=$DEMO_DIR/artifacts"
        --set "mlflow.tracking_uri=sqlite:///$DEMO_DIR/mlflow.db"
        --set "mlflow.artifact_location=$DEMO_DIR/mlruns"
    )
    local extra; for extra in $LAKEREC_SETS; do sets+=(--set "$extra"); done
    "$VENV/bin/spark-submit" --master "$MASTER_URL" --deploy-mode client \
        --name "lakerec-$(basename "$app" .py)" --driver-memory "$DRIVER_MEMORY" \
        --executor-memory "$EXECUTOR_MEMORY" --executor-cores 1 \
        --total-executor-cores "$((WORKERS * WORKER_CORES))" \
        --conf spark.ui.enabled=false --conf spark.log.level="${SPARK_LOG_LEVEL:-WARN}" \
        --py-files "$ZIP" --jars "$jars" \
        "$app" --conf "$CONF" --run-date "$RUN_DATE" "${sets[@]}" "$@"
}

submit() {  # step, job arguments...
    local step="$1"; shift
    [[ -f "jobs/$step.py" ]] || { say "no job jobs/$step.py"; return 1; }
    submit_app "jobs/$step.py" "$@"
}

pipeline() {
    local spec started=$SECONDS
    say "pipeline for $RUN_DATE on $MASTER_URL: $STEPS"
    for spec in $STEPS; do
        case "$spec" in
            generate) submit generate --if-landing-empty ;;
            quality:*) submit quality --layer "${spec#quality:}" ;;
            # every step in one application; RUN_ARGS unquoted: one word per argument
            run) submit_app tools/pipeline_job.py $RUN_ARGS ;;
            *) submit "$spec" ;;
        esac
    done
    say "pipeline done in $((SECONDS - started)) s"
}

demo() {
    trap stop EXIT
    trap 'exit 130' INT TERM
    start
    pipeline
    cat <<EOF
Results of the cluster run for $RUN_DATE:
  Delta tables   $DEMO_DIR/lake/<layer>/<table> (bronze, silver, quarantine, gold, ops)
  run log        $DEMO_DIR/lake/ops/pipeline_runs
  MLflow         sqlite:///$DEMO_DIR/mlflow.db (artifacts in $DEMO_DIR/mlruns)
  data docs      $DEMO_DIR/data_docs
  cluster logs   $LOGS (executor logs under $CLUSTER_DIR/work)
EOF
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    pipeline) pipeline ;;
    demo) demo ;;
    submit) shift; [[ $# -ge 1 ]] || { say "submit needs a step"; exit 2; }; submit "$@" ;;
    *) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 2 ;;
esac

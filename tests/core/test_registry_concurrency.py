"""Two processes on one MLflow SQLite database at once (two lakes sharing a tracking URI, or
a manual step beside the DAG): no process dies, nothing is lost, the database stays sound.

No Spark: the processes call lakerec's registry helpers (:mod:`lakerec.core.registry`) and
MLflow's own logging calls, the way the model steps do.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

from lakerec.core import registry
from lakerec.core.settings import MlflowConfig

MODEL = "lakerec-concurrency"
RUNS_EACH = 2


def log_and_register(root: str, who: str, together: Barrier, results: Any) -> None:
    """Runs with params, metrics and tags, each registered as a version and aliased."""
    try:
        import mlflow

        config = MlflowConfig(tracking_uri=f"sqlite:///{root}/mlflow.db",
                              artifact_location=f"{root}/mlruns", experiment_prefix="lakerec")
        together.wait(timeout=120)  # both start on the new database at the same moment
        client = registry.tracking(config)
        experiment = registry.ensure_experiment(config, "concurrency")
        for i in range(RUNS_EACH):
            with mlflow.start_run(experiment_id=experiment, run_name=f"{who}-{i}") as run:
                mlflow.log_params({"who": who, "i": i})
                for step in range(3):
                    mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
                version = registry.register(client, f"runs:/{run.info.run_id}/model", MODEL,
                                            run_id=run.info.run_id, tags={"who": who})
                registry.set_alias(client, MODEL, registry.CHAMPION, version)
        results.put((who, "ok"))
    except BaseException as exc:  # reported to the test, which names it
        results.put((who, f"{type(exc).__name__}: {exc}"[:1000]))


def test_two_processes_logging_and_registering_at_once_lose_nothing(tmp_path: Path) -> None:
    """Before lakerec took a file lock around MLflow's first connection, one of the two died
    in 5 of 6 tries (``table registered_model_tags already exists``, ``duplicate column name:
    step``: both created the schema); the race is timing-dependent, so this test can pass
    without the lock, but rarely."""
    spawn = multiprocessing.get_context("spawn")
    together, results = spawn.Barrier(2), spawn.Queue()
    workers = [spawn.Process(target=log_and_register, args=(str(tmp_path), who, together,
                                                             results)) for who in ("a", "b")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
    outcomes = dict(results.get(timeout=10) for _ in workers)
    assert outcomes == {"a": "ok", "b": "ok"}, outcomes
    assert all(worker.exitcode == 0 for worker in workers)

    with sqlite3.connect(tmp_path / "mlflow.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        names = {name for (name,) in db.execute("SELECT name FROM runs")}
        assert names == {f"{who}-{i}" for who in ("a", "b") for i in range(RUNS_EACH)}
        versions = [v for (v,) in db.execute(
            "SELECT version FROM model_versions WHERE name = ?", (MODEL,))]
        assert sorted(versions) == list(range(1, 2 * RUNS_EACH + 1))
        metrics = db.execute("SELECT COUNT(*) FROM metrics WHERE key = 'loss'").fetchone()
        assert metrics == (2 * RUNS_EACH * 3,)
        experiments = db.execute(
            "SELECT COUNT(*) FROM experiments WHERE name = 'lakerec-concurrency'").fetchone()
        assert experiments == (1,)

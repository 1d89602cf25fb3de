"""MLflow tracking and model registry helpers shared by the model steps.

Tracking runs on SQLite by default (``sqlite:///workspace/mlflow.db``: MLflow's file store
refuses new runs). Models are promoted with aliases, not stages: ``champion`` serves batch
scoring, ``challenger`` marks a registered version that did not pass its checks.

MLflow is imported inside the functions: importing it takes seconds, and ``lakerec --help``
should not pay for it.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from lakerec.core.settings import MlflowConfig

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.models.model import ModelInfo
    from pyspark.ml import Model

SEGMENTATION_MODEL = "lakerec-segmentation"
ALS_MODEL = "lakerec-als"
CHAMPION = "champion"
CHALLENGER = "challenger"

_SQLITE = "sqlite:///"


def _artifact_root(location: str) -> str:
    """An artifact location as a URI: local folders become absolute ``file://`` URIs."""
    if "://" in location:
        return location.rstrip("/")
    return Path(location).resolve().as_uri()


def tracking(config: MlflowConfig) -> MlflowClient:
    """Point MLflow at ``config.tracking_uri`` (tracking and registry) and return a client.

    Creates the folder of a SQLite database when it is missing.
    """
    import mlflow

    uri = config.tracking_uri
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    if not uri.startswith(_SQLITE):
        return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    database = Path(uri[len(_SQLITE):])
    database.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(database.with_name(f"{database.name}.lock")):
        # the first use creates or upgrades the schema: one process at a time
        client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
        client.search_experiments(max_results=1)
        client.search_registered_models(max_results=1)
        mlflow.search_experiments(max_results=1)  # the fluent API's store, too
    return client


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` for the body, across processes on this host.

    Notes
    -----
    MLflow creates (or migrates) a SQLite database's tables on its first connection, with no
    lock of its own: two processes that start on a new database at once both run
    ``CREATE TABLE``, and one dies (``table ... already exists``). Later writes are safe:
    SQLite serialises them and MLflow waits for its lock.
    """
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_experiment(config: MlflowConfig, name: str) -> str:
    """The id of experiment ``<experiment_prefix>-<name>``, created when missing.

    Its artifacts go to ``<artifact_location>/<experiment name>``. Call :func:`tracking` first.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    full_name = f"{config.experiment_prefix}-{name}"
    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name(full_name)
    if experiment is not None:
        if experiment.lifecycle_stage == "deleted":
            client.restore_experiment(experiment.experiment_id)
        return str(experiment.experiment_id)
    location = f"{_artifact_root(config.artifact_location)}/{full_name}"
    try:
        return str(client.create_experiment(full_name, artifact_location=location))
    except MlflowException as exc:  # another process created it since the lookup
        if exc.error_code not in ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"):
            raise
        created = client.get_experiment_by_name(full_name)
        if created is None:
            raise
        return str(created.experiment_id)


def log_spark_model(model: Model) -> ModelInfo:
    """Log a fitted Spark ML model as the active run's ``model`` artifact.

    Its requirements are given, not inferred: MLflow's inference reloads the model in a
    subprocess (a JVM of its own) and took 26 of the segment step's 46 s on tiny data.
    """
    import mlflow
    import pyspark

    return mlflow.spark.log_model(model, artifact_path="model",
                                  pip_requirements=[f"pyspark=={pyspark.__version__}"])


def register(client: MlflowClient, model_uri: str, name: str, *, run_id: str,
             tags: dict[str, str] | None = None) -> int:
    """Register ``model_uri`` as a new version of model ``name`` (created when missing).

    Parameters
    ----------
    model_uri
        The logged model (``ModelInfo.model_uri``: ``models:/m-...`` or ``runs:/...``).
    run_id
        The run that produced it, linked from the version.

    Returns
    -------
    int
        The new version number.
    """
    from mlflow.exceptions import MlflowException

    try:
        client.create_registered_model(name)
    except MlflowException as exc:
        if exc.error_code not in ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"):
            raise
    model_id = model_uri.removeprefix("models:/") if model_uri.startswith("models:/m-") else None
    version = client.create_model_version(name=name, source=model_uri, run_id=run_id,
                                          tags=dict(tags or {}), model_id=model_id)
    return int(version.version)


def alias_version(client: MlflowClient, name: str, alias: str) -> int | None:
    """The version of ``name`` that carries ``alias``, or None (also when ``name`` is new)."""
    from mlflow.exceptions import MlflowException

    try:
        return int(client.get_model_version_by_alias(name, alias).version)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND", "INVALID_PARAMETER_VALUE"):
            return None
        raise


def latest_version(client: MlflowClient, name: str) -> int | None:
    """The newest registered version of ``name``, or None when ``name`` has none."""
    found = client.search_model_versions(f"name = '{name}'", max_results=1,
                                         order_by=["version_number DESC"])
    return int(found[0].version) if found else None


def set_alias(client: MlflowClient, name: str, alias: str, version: int) -> None:
    """Move ``alias`` of model ``name`` to ``version``."""
    client.set_registered_model_alias(name, alias, str(version))


def remove_alias(client: MlflowClient, name: str, alias: str) -> None:
    """Take ``alias`` off model ``name`` (nothing to do where no version carries it)."""
    if alias_version(client, name, alias) is not None:
        client.delete_registered_model_alias(name, alias)


def champion_uri(name: str) -> str:
    """The URI batch scoring loads: ``models:/<name>@champion``."""
    return f"models:/{name}@{CHAMPION}"

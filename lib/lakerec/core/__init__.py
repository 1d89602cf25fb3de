"""What every stage shares; imports no stage.

- :mod:`lakerec.core.config`: typed configuration, from ``base.yaml`` and its overrides;
- :mod:`lakerec.core.session`: the one Spark session factory;
- :mod:`lakerec.core.lake`: every read, write and MERGE of a Delta table;
- :mod:`lakerec.core.schemas`: column names and table schemas, each written once;
- :mod:`lakerec.core.errors`: the errors a user can cause and fix;
- :mod:`lakerec.core.runlog`: rows of ``ops.pipeline_runs``;
- :mod:`lakerec.core.registry`: MLflow tracking, registration and aliases;
- :mod:`lakerec.core.step`: what a step receives and returns.
"""

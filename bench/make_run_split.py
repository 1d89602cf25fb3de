"""What the ``make run`` diagnostics start from: ``train``'s validation split of the lake
that a ``make run`` filled in the current directory's ``workspace/``
(``diag_grid_time.py``, ``diag_item_costs.py``)."""

from __future__ import annotations

from datetime import date

from lakerec.cli.runner import spark_for
from lakerec.core.config import load_config
from lakerec.core.lake import Lake
from lakerec.core.step import StepContext
from lakerec.recs.holdout import Holdout
from lakerec.recs.training import Fitter, Inputs, evaluation_holdout, make_fitter, read_inputs
from lakerec.recs.tuning import validation_split


def make_run_validation(run_id: str) -> tuple[StepContext, Inputs, Fitter, Holdout]:
    """The step context (``conf/local.yaml``, run date 2026-12-06), ``train``'s inputs and
    fitter, and its validation split."""
    config = load_config("conf/local.yaml", [])
    spark = spark_for(config)
    ctx = StepContext(config=config, spark=spark, lake=Lake(spark, config.paths.root),
                      run_date=date(2026, 12, 6), run_id=run_id)
    inputs = read_inputs(ctx)
    fitter = make_fitter(ctx, inputs)
    validation = validation_split(ctx, evaluation_holdout(ctx, inputs.events), fitter.spec)
    assert validation is not None, "the default config tunes on a validation split"
    return ctx, inputs, fitter, validation

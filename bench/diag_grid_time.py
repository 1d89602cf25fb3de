"""The blend grid's time by its families, on a ``make run`` workspace's validation split.

A diagnostic of bench/train_time.md, "EASE as a fourth family": the validation split and
candidates that ``train`` builds (ALS at the default point, EASE at the lambda validation
chooses), then :func:`~lakerec.recs.blend.choose_weights` over the grid of each set of
families, timed. Run from the directory whose ``workspace/`` a ``make run`` filled, alone
on the machine::

    .venv/bin/python bench/diag_grid_time.py
"""

from __future__ import annotations

import time
from datetime import date

from lakerec.cli.runner import spark_for
from lakerec.core.config import load_config
from lakerec.core.lake import Lake
from lakerec.core.step import StepContext
from lakerec.recs.blend import choose_weights, weight_grid
from lakerec.recs.training import (
    candidates_on,
    default_params,
    evaluation_holdout,
    make_fitter,
    read_inputs,
)
from lakerec.recs.tuning import PRIMARY_K, choose_ease_lambda, validation_split

FAMILIES = (("als", "item_item", "popular", "ease"), ("als", "item_item", "ease"),
            ("als", "item_item", "popular"), ("als", "item_item", "popular", "ease"))


def seconds_since(start: float) -> str:
    return f"{time.perf_counter() - start:.1f} s"


def main() -> None:
    config = load_config("conf/local.yaml", [])
    spark = spark_for(config)
    ctx = StepContext(config=config, spark=spark, lake=Lake(spark, config.paths.root),
                      run_date=date(2026, 12, 6), run_id="diag-grid-time")
    inputs = read_inputs(ctx)
    fitter = make_fitter(ctx, inputs)
    validation = validation_split(ctx, evaluation_holdout(ctx, inputs.events), fitter.spec)
    assert validation is not None, "the default config tunes on a validation split"
    start = time.perf_counter()
    model = fitter.on_holdout(validation, default_params(ctx))
    print("ALS fit", seconds_since(start))
    start = time.perf_counter()
    ease, _ = choose_ease_lambda(ctx, validation)
    print("EASE lambda", seconds_since(start))
    start = time.perf_counter()
    candidates = candidates_on(validation, inputs, model, fitter.spec, ctx, ease=ease)
    for name, recs in candidates.lists.items():
        begun = time.perf_counter()
        recs.count()
        print(f"  list {name}", seconds_since(begun))
    print("candidates", seconds_since(start))
    for families in FAMILIES:
        grid = weight_grid(ctx.config.recommend.blend.weight_step, families)
        start = time.perf_counter()
        chosen, _ = choose_weights(candidates.lists, grid, validation.relevant,
                                   depth=candidates.depth, k=PRIMARY_K,
                                   tolerance_se=ctx.config.recommend.blend.tolerance_se)
        print(f"{families}: {len(grid)} weightings, {seconds_since(start)} ({chosen})")


if __name__ == "__main__":
    main()

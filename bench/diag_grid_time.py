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

from make_run_split import make_run_validation

from lakerec.recs.blend import choose_weights, weight_grid
from lakerec.recs.training import candidates_on, default_params
from lakerec.recs.tuning import PRIMARY_K, choose_ease_lambda

FAMILIES = (("als", "item_item", "popular", "ease"), ("als", "item_item", "ease"),
            ("als", "item_item", "popular"), ("als", "item_item", "popular", "ease"))


def seconds_since(start: float) -> str:
    return f"{time.perf_counter() - start:.1f} s"


def main() -> None:
    ctx, inputs, fitter, validation = make_run_validation("diag-grid-time")
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

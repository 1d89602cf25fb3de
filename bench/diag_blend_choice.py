"""How sure is the blend choice? Every weighting's NDCG@10 on validation and on test.

A diagnostic of the blend choice (bench/ranking.md, "Blend choice"): at the ALS settings the
search chose (the last ``als_searched`` record of ``results/ranking.jsonl`` for the dataset
and protocol), each weighting of the blend grid is scored per customer on the validation
split ``train`` uses and on the evaluation split. Printed per weighting: the mean, its
standard error, and the paired shortfall to the best weighting with its standard error; then
what the plain maximum and two one-standard-error rules would choose (the last is
``recommend.blend.tolerance_se: 1``), and the test score of each choice. Needs the
harness's dataset (``lakerec bench ranking`` builds it)::

    .venv/bin/python bench/diag_blend_choice.py [online-retail] [time]
"""

from __future__ import annotations

import ast
import json
import math
import sys
from pathlib import Path

import pandas as pd

from lakerec.cli.bench_ranking import dataset_context
from lakerec.core.schemas import USER_ID
from lakerec.core.step import StepContext
from lakerec.recs.blend import WEIGHTING, BlendWeights, blend_grid, ndcg_per_weighting, simplicity
from lakerec.recs.holdout import Holdout
from lakerec.recs.search import AlsParams
from lakerec.recs.training import (
    Fitter,
    Inputs,
    candidates_on,
    evaluation_holdout,
    make_fitter,
    read_inputs,
)
from lakerec.recs.tuning import PRIMARY_K, configured_grid, validation_split

RECORDS = Path(__file__).parent / "results" / "ranking.jsonl"


def searched_params(name: str, protocol: str) -> AlsParams:
    """The settings of the last ``als_searched`` record of ``name`` / ``protocol``."""
    records = [json.loads(line) for line in RECORDS.read_text().splitlines() if line.strip()]
    detail = [r["detail"] for r in records if r["dataset"] == name
              and r["protocol"] == protocol and r["system"] == "als_searched"][-1]
    return AlsParams(**ast.literal_eval(detail))


def per_user_table(ctx: StepContext, split: Holdout, inputs: Inputs, fitter: Fitter,
                   params: AlsParams, grid: list[BlendWeights]) -> pd.DataFrame:
    """Customers x weightings: each customer's NDCG@10 under each weighting."""
    candidates = candidates_on(split, inputs, fitter.on_holdout(split, params),
                               fitter.spec_for(params), ctx)
    recs = blend_grid(candidates.lists, grid, depth=candidates.depth, k=PRIMARY_K)
    values = ndcg_per_weighting(recs, split.relevant, PRIMARY_K, len(grid)).toPandas()
    candidates.unpersist()
    table = values.pivot(index=USER_ID, columns=WEIGHTING, values="_value")
    return table[list(range(len(grid)))].set_axis([str(w) for w in grid], axis=1)


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Mean and its standard error; the paired shortfall to the best weighting and its
    standard error (what ``choose_weights`` weighs)."""
    n = len(table)
    best = table.mean().idxmax()
    shortfall = -table.sub(table[best], axis=0)
    return pd.DataFrame({"mean": table.mean(), "se": table.std() / math.sqrt(n),
                         "shortfall": shortfall.mean(),
                         "shortfall_se": shortfall.std() / math.sqrt(n)})


def choices(stats: pd.DataFrame, grid: list[BlendWeights]) -> dict[str, str]:
    """The weighting each rule picks from validation ``stats`` (rows in grid order)."""
    best = stats["mean"].idxmax()
    unpaired = next(c for c in stats.index
                    if stats.loc[c, "mean"] >= stats.loc[best, "mean"] - stats.loc[best, "se"])
    by_name = {str(w): w for w in grid}
    within = [c for c in stats.index
              if stats.loc[c, "shortfall"] <= stats.loc[c, "shortfall_se"]]
    paired = min(within, key=lambda c: (simplicity(by_name[c]), -stats.loc[c, "mean"]))
    return {"maximum (tolerance_se 0)": best,
            "first in grid order within 1 se of the best's mean": unpaired,
            "simplest within 1 paired se (tolerance_se 1, the default)": paired}


def main(name: str = "online-retail", protocol: str = "time") -> None:
    ctx = dataset_context(name, protocol)
    params = searched_params(name, protocol)
    print(f"{name} / {protocol} at {params.as_dict()}", flush=True)
    inputs = read_inputs(ctx)
    holdout = evaluation_holdout(ctx, inputs.events)
    fitter = make_fitter(ctx, inputs)
    validation = validation_split(ctx, holdout, fitter.spec)
    assert validation is not None, "the harness tunes, so there is a validation split"
    grid = configured_grid(ctx)
    print("validation:", flush=True)
    valid = summary(per_user_table(ctx, validation, inputs, fitter, params, grid))
    print("test:", flush=True)
    test = summary(per_user_table(ctx, holdout, inputs, fitter, params, grid))
    with pd.option_context("display.width", 200, "display.max_columns", 10,
                           "display.float_format", "{:.4f}".format):
        print(f"\nvalidation ({len(valid)} weightings):\n{valid}\n\ntest:\n{test}\n")
    best_test = test["mean"].max()
    for rule, choice in choices(valid, grid).items():
        kind = "blend" if " + " in choice else "single"
        print(f"{rule}: {choice} ({kind}) -> test {test.loc[choice, 'mean']:.4f} "
              f"({test.loc[choice, 'mean'] / best_test:.1%} of the grid's best on test)")


if __name__ == "__main__":
    main(*sys.argv[1:3])

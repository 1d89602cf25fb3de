"""Validation and test NDCG@10 of ALS alone at fixed settings, on a harness dataset.

A diagnostic of the search (bench/ranking.md, "The left-out Online Retail time split with a
larger budget"): each settings object (JSON, the fields of ``AlsParams``) is fitted on the
validation split ``train`` uses and on the evaluation split's training part, and scored on
each. Needs the harness's dataset (``lakerec bench ranking`` builds it)::

    .venv/bin/python bench/diag_fixed_points.py online-retail time \\
        '{"rank": 51, "reg_param": 0.005, "alpha": 2.0, "transform": "log", "half_life_days": 30}'
"""

from __future__ import annotations

import json
import sys

from lakerec.cli.bench_ranking import dataset_context
from lakerec.recs.holdout import Holdout
from lakerec.recs.search import AlsParams
from lakerec.recs.training import evaluation_holdout, make_fitter, model_top_k, read_inputs
from lakerec.recs.tuning import PRIMARY_K, validation_ndcg, validation_split


def main(name: str, protocol: str, *settings: str) -> None:
    ctx = dataset_context(name, protocol)
    inputs = read_inputs(ctx)
    holdout = evaluation_holdout(ctx, inputs.events)
    fitter = make_fitter(ctx, inputs)
    validation = validation_split(ctx, holdout, fitter.spec)
    assert validation is not None, "the harness tunes, so there is a validation split"
    users_per_block = ctx.config.recommend.users_per_block

    def ndcg(split: Holdout, params: AlsParams) -> float:
        model = fitter.on_holdout(split, params)
        return validation_ndcg(model_top_k(model, split, inputs, PRIMARY_K, users_per_block),
                               split)

    for text in settings:
        params = AlsParams(**json.loads(text))
        print(f"{params}: validation {ndcg(validation, params):.4f} "
              f"test {ndcg(holdout, params):.4f}", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])

"""Do two ALS settings rank the same on several validation splits and on the test split?

A diagnostic of the search's validation estimate (bench/ranking.md, "Start points"): the
default point against the point the 10-trial search once drew on Online Retail's random
split, on the evaluation split and on validation splits of seeds 43 (the one ``train``
uses), 44 and 45. Needs the harness's dataset (``lakerec bench ranking`` builds it)::

    .venv/bin/python bench/diag_validation_seeds.py [online-retail] [random]
"""

from __future__ import annotations

import sys
import time

from lakerec.cli.bench_ranking import dataset_context
from lakerec.recs.holdout import random_holdout
from lakerec.recs.search import AlsParams
from lakerec.recs.training import evaluation_holdout, make_fitter, model_top_k, read_inputs
from lakerec.recs.tuning import validation_ndcg

POINTS = {"default": AlsParams(32, 0.1, 0.5, "binary", None),
          "drawn by 10 trials": AlsParams(60, 0.20346, 0.27432, "linear", None)}


def main(name: str = "online-retail", protocol: str = "random") -> None:
    ctx = dataset_context(name, protocol)
    config = ctx.config
    inputs = read_inputs(ctx)
    holdout = evaluation_holdout(ctx, inputs.events)
    fitter = make_fitter(ctx, inputs)
    splits = {"test": holdout}
    for seed in (43, 44, 45):
        split = random_holdout(holdout.train, holdout.events, ratio=config.recommend.split.ratio,
                               seed=seed, trained_until=holdout.trained_until)
        split.train, split.relevant = split.train.cache(), split.relevant.cache()
        splits[f"validation seed {seed}"] = split
    for split_name, split in splits.items():
        for point_name, params in POINTS.items():
            started = time.perf_counter()
            model = fitter.on_holdout(split, params)
            recs = model_top_k(model, split, inputs, 10, config.recommend.users_per_block)
            print(f"{split_name}: {point_name} ndcg@10 {validation_ndcg(recs, split):.4f} "
                  f"({time.perf_counter() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:3])

"""Which ALS settings lead on validation splits of several seeds and shares, and on test?

A diagnostic of the validation split's share (``recommend.split.validation_ratio``,
bench/ranking.md, "MovieLens 100K"): the default point, the SAR-affinity start point grown
to rank 32 and the search's rank-12 draw, each fitted on the evaluation split's training
part and scored on its test part, then on validation splits carved from that training part
with seeds 43 (the one ``train`` uses), 44 and 45, keeping each share of ``--ratios``. Needs
the harness's dataset (``lakerec bench ranking`` builds it)::

    .venv/bin/python bench/diag_validation_ratio.py movielens-100k --ratios 0.75 0.9
"""

from __future__ import annotations

import argparse

from lakerec.cli.bench_ranking import dataset_context
from lakerec.recs.holdout import Holdout, random_holdout
from lakerec.recs.search import AlsParams
from lakerec.recs.training import evaluation_holdout, make_fitter, model_top_k, read_inputs
from lakerec.recs.tuning import validation_ndcg

POINTS = {"default": AlsParams(32, 0.1, 0.5, "binary", None),
          "start point at rank 32": AlsParams(32, 0.7, 4.0, "binary", 30.0),
          "rank-12 draw": AlsParams(12, 0.00333, 2.5166, "binary", None)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument("--ratios", type=float, nargs="+", default=[0.75, 0.9])
    args = parser.parse_args()
    ctx = dataset_context(args.dataset, "random")
    inputs = read_inputs(ctx)
    holdout = evaluation_holdout(ctx, inputs.events)
    fitter = make_fitter(ctx, inputs)
    splits: dict[str, Holdout] = {"test": holdout}
    for ratio in args.ratios:
        for seed in (43, 44, 45):
            split = random_holdout(holdout.train, holdout.events, ratio=ratio, seed=seed,
                                   trained_until=holdout.trained_until)
            split.train, split.relevant = split.train.cache(), split.relevant.cache()
            splits[f"validation {ratio} seed {seed}"] = split
    for split_name, split in splits.items():
        scores = []
        for point_name, params in POINTS.items():
            recs = model_top_k(fitter.on_holdout(split, params), split, inputs, 10,
                               ctx.config.recommend.users_per_block)
            scores.append(f"{point_name} {validation_ndcg(recs, split):.4f}")
        print(f"{split_name}: " + ", ".join(scores), flush=True)
        if split is not holdout:
            split.unpersist()


if __name__ == "__main__":
    main()

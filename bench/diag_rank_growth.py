"""What doubling the rank does on validation and on test, at fixed settings.

A diagnostic of rank growth (bench/ranking.md, "A tie in rank growth goes to the larger
rank"): ALS at the given settings and at twice their rank, each fitted on the evaluation
split's training part and scored on its test part, then on validation splits (for the
random protocol, one per ``--validation-ratios`` share of the training pairs kept; the time
protocol has one), with the doubled rank's paired shortfall and its standard error. Needs the
harness's dataset (``lakerec bench ranking`` builds it)::

    .venv/bin/python bench/diag_rank_growth.py movielens-dslabs random \\
        '{"rank": 32, "reg_param": 0.1, "alpha": 0.5, "transform": "binary",
          "half_life_days": null}' --validation-ratios 0.75 0.9
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace

from lakerec.cli.bench_ranking import dataset_context
from lakerec.recs.holdout import Holdout, validation_holdout
from lakerec.recs.search import AlsParams, shortfall_se
from lakerec.recs.training import evaluation_holdout, make_fitter, model_top_k, read_inputs
from lakerec.recs.tuning import PRIMARY_K, mean_score, validation_scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument("protocol", choices=["time", "random"])
    parser.add_argument("settings", help="JSON of the fields of AlsParams")
    parser.add_argument("--validation-ratios", type=float, nargs="+", default=[0.75])
    args = parser.parse_args()
    ctx = dataset_context(args.dataset, args.protocol)
    cfg = ctx.config.recommend
    inputs = read_inputs(ctx)
    holdout = evaluation_holdout(ctx, inputs.events)
    fitter = make_fitter(ctx, inputs)
    chosen = AlsParams(**json.loads(args.settings))
    doubled = replace(chosen, rank=2 * chosen.rank)

    def scores(split: Holdout, params: AlsParams) -> dict[str, float]:
        model = fitter.on_holdout(split, params)
        return validation_scores(model_top_k(model, split, inputs, PRIMARY_K,
                                             cfg.users_per_block), split)

    test = [mean_score(scores(holdout, params)) for params in (chosen, doubled)]
    print(f"{chosen}\ntest: rank {chosen.rank} {test[0]:.4f}, rank {doubled.rank} "
          f"{test[1]:.4f} ({test[1] / test[0] - 1:+.1%})", flush=True)
    ratios = args.validation_ratios if args.protocol == "random" else [cfg.split.ratio]
    for ratio in ratios:
        validation = validation_holdout(
            holdout, fitter.spec, test_days=cfg.split.test_days, ratio=ratio,
            seed=cfg.split.seed, run_date=ctx.run_date,
            relevant_event_types=cfg.relevant_event_types)
        validation.relevant = validation.relevant.cache()
        base, grown = (scores(validation, params) for params in (chosen, doubled))
        shortfall = mean_score(base) - mean_score(grown)
        se = shortfall_se(base, grown)
        print(f"validation (ratio {ratio}, {len(base)} customers): rank {chosen.rank} "
              f"{mean_score(base):.4f}, rank {doubled.rank} {mean_score(grown):.4f}, "
              f"doubled minus chosen {-shortfall:+.4f} ({-shortfall / se:+.2f} standard "
              "errors)", flush=True)
        validation.unpersist()


if __name__ == "__main__":
    main()

"""What doubling the rank does on validation and on test, at fixed settings.

A diagnostic of rank growth (bench/ranking.md, "A tie in rank growth goes to the larger
rank"): ALS at the given settings and at twice their rank, each fitted on the evaluation
split's training part and scored on its test part, then on validation splits (for the
random protocol, one per ``--validation-ratios`` share of the training pairs kept; the time
protocol has one), each with the larger rank's paired difference and its standard error
(``--to-rank`` for another rank than twice the settings'). Needs the
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
    parser.add_argument("--to-rank", type=int, help="the larger rank (default: twice the "
                        "settings' rank; the search's growth stops at the top of its range)")
    args = parser.parse_args()
    ctx = dataset_context(args.dataset, args.protocol)
    cfg = ctx.config.recommend
    inputs = read_inputs(ctx)
    holdout = evaluation_holdout(ctx, inputs.events)
    fitter = make_fitter(ctx, inputs)
    chosen = AlsParams(**json.loads(args.settings))
    doubled = replace(chosen, rank=args.to_rank or 2 * chosen.rank)

    def scores(split: Holdout, params: AlsParams) -> dict[str, float]:
        model = fitter.on_holdout(split, params)
        return validation_scores(model_top_k(model, split, inputs, PRIMARY_K,
                                             cfg.users_per_block), split)

    def compared(base: dict[str, float], grown: dict[str, float]) -> str:
        shortfall = mean_score(base) - mean_score(grown)
        return (f"rank {chosen.rank} {mean_score(base):.4f}, rank {doubled.rank} "
                f"{mean_score(grown):.4f}, larger minus chosen {-shortfall:+.4f} "
                f"({-shortfall / mean_score(base):+.1%}, "
                f"{-shortfall / shortfall_se(base, grown):+.2f} standard errors)")

    test = [scores(holdout, params) for params in (chosen, doubled)]
    print(f"{chosen}\ntest ({len(test[0])} customers): {compared(*test)}", flush=True)
    ratios = args.validation_ratios if args.protocol == "random" else [cfg.split.ratio]
    for ratio in ratios:
        validation = validation_holdout(
            holdout, fitter.spec, test_days=cfg.split.test_days, ratio=ratio,
            seed=cfg.split.seed, run_date=ctx.run_date,
            relevant_event_types=cfg.relevant_event_types)
        validation.relevant = validation.relevant.cache()
        base, grown = (scores(validation, params) for params in (chosen, doubled))
        print(f"validation (ratio {ratio}, {len(base)} customers): {compared(base, grown)}",
              flush=True)
        validation.unpersist()


if __name__ == "__main__":
    main()

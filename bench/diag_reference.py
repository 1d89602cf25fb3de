"""EASE (a family of lakerec since 2026-12-06) against ALS at fixed settings, on test.

A diagnostic of the finding "A published family as a reference" (bench/ranking.md): both
fitted on the evaluation split's training part and scored on its test part, customer by
customer, with EASE's difference and its paired standard error. Needs the harness's dataset
(``lakerec bench ranking`` builds it)::

    .venv/bin/python bench/diag_reference.py online-retail random \\
        '{"rank": 64, "reg_param": 0.1, "alpha": 0.5, "transform": "binary",
          "half_life_days": null}' --lambda 300
"""

from __future__ import annotations

import argparse
import json

from lakerec.cli.bench_ranking import dataset_context
from lakerec.core.schemas import USER_ID
from lakerec.recs.ease import ease_top_k, item_gram
from lakerec.recs.search import AlsParams, shortfall_se
from lakerec.recs.training import evaluation_holdout, make_fitter, model_top_k, read_inputs
from lakerec.recs.tuning import PRIMARY_K, mean_score, validation_scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument("protocol", choices=["time", "random"])
    parser.add_argument("settings", help="JSON of the fields of AlsParams")
    parser.add_argument("--lambda", dest="lamb", type=float, required=True,
                        help="EASE's lambda (the bench's record gives the one it chose)")
    args = parser.parse_args()
    ctx = dataset_context(args.dataset, args.protocol)
    inputs = read_inputs(ctx)
    holdout = evaluation_holdout(ctx, inputs.events)
    settings = AlsParams(**json.loads(args.settings))
    per_block = ctx.config.recommend.users_per_block
    model = make_fitter(ctx, inputs).on_holdout(holdout, settings)
    als = validation_scores(model_top_k(model, holdout, inputs, PRIMARY_K, per_block), holdout)
    users = holdout.relevant.select(USER_ID).distinct()
    fitted = item_gram(holdout.train, max_items=ctx.config.recommend.ease.max_items)
    ease = validation_scores(ease_top_k(fitted.model(args.lamb), holdout.train, PRIMARY_K,
                                        users=users, users_per_block=per_block), holdout)
    gain = mean_score(ease) - mean_score(als)
    print(f"test ({len(als)} customers): ALS {settings} {mean_score(als):.4f}, EASE lambda "
          f"{args.lamb:g} {mean_score(ease):.4f}, EASE minus ALS {gain:+.4f} "
          f"({gain / mean_score(als):+.1%}, {gain / shortfall_se(als, ease):+.2f} standard "
          "errors)", flush=True)


if __name__ == "__main__":
    main()

"""Would rank growth judged on projected scores, as the search's tie now is, double on?

Two ALS settings (a trial and its doubled rank) fitted on the validation split of a
``bench/movielens_benchmark.py`` run and on the projection's share of its training pairs
(``recommend.split.projection_share``), with the larger one's lead on validation, on the
thinned pairs and projected to the refit's size, and the projected lead's standard error
paired customer by customer (``tuning.Projection.lead_se``)::

    .venv/bin/python bench/diag_growth_projection.py \\
        workspace/artifacts/bench/movielens_1m_e2e_tie/by_item 2003-03-01 \\
        '[{"rank": 64, "reg_param": 0.1, "alpha": 0.5, "transform": "linear",
           "half_life_days": 30.0},
          {"rank": 128, "reg_param": 0.1, "alpha": 0.5, "transform": "linear",
           "half_life_days": 30.0}]'

The run's own settings are reproduced (the random protocol, the events' first year, every
rater active); the validation split is the one its search drew.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

from lakerec.cli.runner import spark_for
from lakerec.core.config import load_config
from lakerec.core.lake import Lake
from lakerec.core.step import StepContext
from lakerec.recs.search import AlsParams
from lakerec.recs.training import evaluation_holdout, make_fitter, model_top_k, read_inputs
from lakerec.recs.tuning import (
    PRIMARY_K,
    mean_score,
    projection,
    validation_scores,
    validation_split,
)

FOLDERS = {"root": "lake", "landing": "landing", "ground_truth": "ground_truth",
           "checkpoint": "checkpoints", "data_docs": "data_docs", "artifacts": "artifacts"}


def main() -> None:
    workdir, run_date = Path(sys.argv[1]).resolve(), date.fromisoformat(sys.argv[2])
    small, large = (AlsParams(**fields) for fields in json.loads(sys.argv[3]))
    overrides = [f"paths.{key}={workdir / folder}" for key, folder in FOLDERS.items()]
    overrides += ["recommend.split.protocol=random", "conform.min_event_ts=1990-01-01",
                  "recommend.active_window_days=36500",
                  f"mlflow.tracking_uri=sqlite:///{workdir}/diag_mlflow.db"]
    config = load_config("conf/local.yaml", overrides)
    spark = spark_for(config)
    ctx = StepContext(config=config, spark=spark, lake=Lake(spark, config.paths.root),
                      run_date=run_date, run_id="diag-growth-projection")
    inputs = read_inputs(ctx)
    fitter = make_fitter(ctx, inputs)
    holdout = evaluation_holdout(ctx, inputs.events)
    validation = validation_split(ctx, holdout, fitter.spec)
    projected = projection(ctx, holdout)
    if validation is None or projected is None:
        raise SystemExit("no validation split or no projection under this configuration")
    fewer = validation.thinned(projected.share, seed=config.recommend.split.seed)
    measured: dict[AlsParams, dict[str, float]] = {}
    thinned: dict[AlsParams, dict[str, float]] = {}
    for params in (small, large):
        for split, into in ((validation, measured), (fewer, thinned)):
            model = fitter.on_holdout(split, params)
            into[params] = validation_scores(model_top_k(
                model, split, inputs, PRIMARY_K, config.recommend.users_per_block), split)
        print(f"{params}: validation {mean_score(measured[params]):.4f}, on "
              f"{100 * projected.share:.0f}% of its pairs {mean_score(thinned[params]):.4f}",
              flush=True)
    lead = mean_score(measured[large]) - mean_score(measured[small])
    thin = mean_score(thinned[large]) - mean_score(thinned[small])
    print(f"the second over the first: lead {lead:+.4f} on validation, {thin:+.4f} thinned, "
          f"{projected.project(lead, thin):+.4f} projected ({projected.reach:.2f} steps on), "
          f"its standard error {projected.lead_se(measured, thinned, large, small):.4f}")


if __name__ == "__main__":
    main()

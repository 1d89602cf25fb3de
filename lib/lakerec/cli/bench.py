"""``lakerec bench scoring``: time top-k scoring of every user, blocked vs Spark's built-in.
(``lakerec bench ranking``, the recommenders' accuracy side by side:
:mod:`lakerec.cli.bench_ranking`.)

    lakerec bench scoring --users 50000 --items 20000 --rank 64 --k 10 --method blocked
    lakerec bench scoring --users 50000 --items 20000 --rank 64 --k 10 --method builtin

Both methods score the same random factors (normal, seeded), written once as Parquet.
``builtin`` needs an ``ALSModel``, which Python cannot build from factors: the bench fits
a one-iteration ALS of the requested rank on three ratings, saves it with Spark ML's
persistence, replaces the saved ``userFactors``/``itemFactors`` Parquet folders with the
random factors and loads it back. Timing starts after that; each repeat computes every
user's top k and writes it to Spark's ``noop`` sink, after ``--warmup`` untimed runs. The
median of the repeats is printed, and appended as one JSON line to ``--record`` when
given. See ``bench/scoring.md``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakerec.cli.bench_ranking import add_parser as add_ranking_parser
from lakerec.cli.bench_ranking import main as ranking_main
from lakerec.core.config import Config
from lakerec.core.schemas import FACTOR_FEATURES, FACTOR_ID

log = logging.getLogger("lakerec.bench")

METHODS = ("blocked", "builtin")


def parser() -> argparse.ArgumentParser:
    bench = argparse.ArgumentParser(prog="lakerec bench", description=__doc__.split("\n")[0])
    benches = bench.add_subparsers(dest="bench", required=True)
    scoring = benches.add_parser("scoring", help="time top-k scoring of every user")
    scoring.add_argument("--users", type=int, default=50_000)
    scoring.add_argument("--items", type=int, default=20_000)
    scoring.add_argument("--rank", type=int, default=64)
    scoring.add_argument("--k", type=int, default=10)
    scoring.add_argument("--method", choices=METHODS, required=True)
    scoring.add_argument("--repeats", type=int, default=3)
    scoring.add_argument("--warmup", type=int, default=1,
                         help="untimed runs first (Python workers, JIT); not in the median")
    scoring.add_argument("--users-per-block", type=int, default=2048)
    scoring.add_argument("--seed", type=int, default=7)
    scoring.add_argument("--workdir", help="where the factors and model are written "
                         "(default: <paths.artifacts>/bench/scoring)")
    scoring.add_argument("--record", help="append the result as one JSON line to this file")
    scoring.add_argument("--masks-per-user", type=int, default=0, metavar="N",
                         help="blocked only: also mask N random items per user (purchases)")
    scoring.add_argument("--verify-users", type=int, default=0, metavar="N",
                         help="after timing, compare both methods' top k for N users")
    add_ranking_parser(benches)
    return bench


def append_record(path: str, record: dict[str, object]) -> None:
    """Append ``record`` as one JSON line to ``path`` (the benchmarks' result files)."""
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(record) + "\n")


def machine() -> dict[str, object]:
    """CPU model, core count, memory and load: what a benchmark record needs."""
    info: dict[str, object] = {"nproc": os.cpu_count(), "python": platform.python_version()}
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        models = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                  if line.startswith("model name")]
        info["cpu"] = models[0] if models else "unknown"
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        total_kb = int(meminfo.read_text().split()[1])
        info["memory_gib"] = round(total_kb / 2**20, 1)
    info["loadavg_1m"] = os.getloadavg()[0]
    return info


LAKEREC_PACKAGE = Path(__file__).resolve().parents[1]


def code_version(package: Path = LAKEREC_PACKAGE) -> str | None:
    """The git commit of the clone that ``package`` (lakerec's, by default) is ``lib/<name>``
    of, with ``-dirty`` when ``lib`` or ``conf`` has uncommitted changes (the records a
    bench appends under ``bench/results`` do not count); ``None`` when it runs from an
    installed package or without git."""
    root = package.parents[1]
    if package.parent.name != "lib" or not (root / ".git").exists():
        return None

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                              check=True, timeout=30).stdout.strip()
    try:
        commit = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", "lib", "conf")
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("-dirty" if dirty else "")


def random_factors(spark: SparkSession, n: int, rank: int, seed: int,
                   partitions: int) -> DataFrame:
    """``id`` int 0..n-1, ``features`` array<float> of ``rank`` N(0, 1/rank) values."""
    scale = rank ** -0.5
    return spark.range(n, numPartitions=partitions).select(
        F.col("id").cast("int").alias(FACTOR_ID),
        F.array(*[(F.randn(seed + j) * scale).cast("float") for j in range(rank)])
        .alias(FACTOR_FEATURES))


def write_model(spark: SparkSession, folder: Path, *, users: int, items: int, rank: int,
                seed: int) -> None:
    """An ``ALSModel`` at ``folder`` whose factors are random ones of the given shape."""
    from pyspark.ml.recommendation import ALS

    tiny = spark.createDataFrame([(0, 0, 1.0), (0, 1, 1.0), (1, 1, 1.0)],
                                 "user int, item int, rating float")
    template = ALS(rank=rank, maxIter=1, implicitPrefs=True, seed=seed).fit(tiny)
    template.write().overwrite().save(str(folder))
    partitions = spark.sparkContext.defaultParallelism
    random_factors(spark, users, rank, seed, partitions).write.mode("overwrite").parquet(
        str(folder / "userFactors"))
    random_factors(spark, items, rank, seed + 10_000, partitions).write.mode(
        "overwrite").parquet(str(folder / "itemFactors"))


def time_runs(run: Callable[[], None], repeats: int) -> list[float]:
    seconds = []
    for attempt in range(1, repeats + 1):
        start = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - start)
        log.info("run %d/%d: %.2f s", attempt, repeats, seconds[-1])
    return seconds


def compare_top_k(blocked: DataFrame, builtin: DataFrame, tolerance: float = 1e-4
                  ) -> dict[str, int]:
    """Users whose top-k item sets agree, differ only among items tied with the k-th
    score (within ``tolerance``), or really differ.

    ``blocked``: ``user``, ``item``, ``score``; ``builtin``: ``recommendForUserSubset``'s
    ``user``, ``recommendations`` array of (``item``, ``rating``).
    """
    ours: dict[int, dict[int, float]] = {}
    for row in blocked.collect():
        ours.setdefault(row["user"], {})[row["item"]] = row["score"]
    counts = {"users": 0, "identical": 0, "tied": 0, "different": 0}
    for row in builtin.collect():
        theirs = {rec["item"]: rec["rating"] for rec in row["recommendations"]}
        mine = ours.get(row["user"], {})
        counts["users"] += 1
        if set(mine) == set(theirs):
            counts["identical"] += 1
            continue
        kth = min(theirs.values())
        scores = {**theirs, **mine}
        near_kth = all(abs(scores[item] - kth) <= tolerance for item in set(mine) ^ set(theirs))
        counts["tied" if near_kth else "different"] += 1
    return counts


def bench_scoring(spark: SparkSession, args: argparse.Namespace, workdir: Path) -> dict:
    from pyspark.ml.recommendation import ALSModel

    from lakerec.recs.scoring import top_k_blocked

    folder = workdir / f"model_u{args.users}_i{args.items}_r{args.rank}_s{args.seed}"
    if not (folder / "itemFactors" / "_SUCCESS").exists():
        log.info("writing random factors and model to %s", folder)
        write_model(spark, folder, users=args.users, items=args.items, rank=args.rank,
                    seed=args.seed)

    masks = None
    if args.masks_per_user:
        masks = spark.range(args.users * args.masks_per_user).select(
            (F.col("id") % args.users).cast("int").alias("user"),
            (F.abs(F.xxhash64("id", F.lit(args.seed))) % args.items).cast("int").alias("item"))

    def run_blocked() -> None:
        top = top_k_blocked(spark.read.parquet(str(folder / "userFactors")),
                            spark.read.parquet(str(folder / "itemFactors")), args.k,
                            exclude_pairs=masks, users_per_block=args.users_per_block)
        top.write.format("noop").mode("overwrite").save()

    def run_builtin() -> None:
        model = ALSModel.load(str(folder))
        model.recommendForAllUsers(args.k).write.format("noop").mode("overwrite").save()

    run = run_blocked if args.method == "blocked" else run_builtin
    before = machine()
    warmup = time_runs(run, args.warmup) if args.warmup else []
    seconds = time_runs(run, args.repeats)
    verified = None
    if args.verify_users:
        subset = spark.read.parquet(str(folder / "userFactors")).where(
            F.col(FACTOR_ID) < args.verify_users)
        blocked = top_k_blocked(subset, spark.read.parquet(str(folder / "itemFactors")), args.k)
        builtin = ALSModel.load(str(folder)).recommendForUserSubset(
            subset.select(F.col(FACTOR_ID).alias("user")), args.k)
        verified = compare_top_k(blocked, builtin)
        log.info("blocked vs builtin top %d: %s", args.k, verified)
    return {
        "bench": "scoring", "method": args.method, "users": args.users, "items": args.items,
        "rank": args.rank, "k": args.k, "repeats": args.repeats,
        "users_per_block": args.users_per_block if args.method == "blocked" else None,
        "masks_per_user": args.masks_per_user if args.method == "blocked" else None,
        "warmup_seconds": [round(s, 3) for s in warmup],
        "seconds": [round(s, 3) for s in seconds],
        "median_seconds": round(statistics.median(seconds), 3),
        "spark_master": spark.sparkContext.master,
        "machine": before, "loadavg_1m_after": os.getloadavg()[0], "commit": code_version(),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "verified": verified,
    }


def main(argv: list[str], config: Config) -> int:
    """Entry point of ``lakerec bench``; returns the exit code."""
    from lakerec.core.session import build_spark

    args = parser().parse_args(argv)
    if args.bench == "ranking":
        spark = build_spark(config.spark, config.paths.checkpoint)
        return ranking_main(args, config, spark,
                            {"machine": machine(), "commit": code_version()})
    for name in ("users", "items", "rank", "k", "repeats", "users_per_block"):
        if getattr(args, name) < 1:
            raise SystemExit(f"lakerec bench: --{name.replace('_', '-')} must be positive")
    for name in ("warmup", "masks_per_user", "verify_users"):
        if getattr(args, name) < 0:
            raise SystemExit(f"lakerec bench: --{name.replace('_', '-')} must not be negative")
    workdir = Path(args.workdir or Path(config.paths.artifacts) / "bench" / "scoring")
    spark = build_spark(config.spark, config.paths.checkpoint)
    result = bench_scoring(spark, args, workdir)
    print(f"scoring {result['method']}: {args.users} users x {args.items} items, rank "
          f"{args.rank}, k {args.k}: median {result['median_seconds']:.2f} s over "
          f"{args.repeats} runs {result['seconds']} (load {result['machine']['loadavg_1m']:.2f}"
          f" before, {result['loadavg_1m_after']:.2f} after)")
    if result["verified"]:
        print(f"blocked vs builtin, {args.verify_users} users: {result['verified']}")
    if args.record:
        append_record(args.record, result)
    return 0

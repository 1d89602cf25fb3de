"""``lakerec <step> [--conf FILE] [--set key=value ...] [--run-date YYYY-MM-DD]``.

``lakerec run`` runs the whole pipeline in order (see :mod:`lakerec.cli.pipeline`). Errors the
user can fix print one line and exit non-zero (2 for bad input or config, 3 for failed data
quality, 4 when another run holds the lake, 5 when the lake cannot be written);
``jobs/<step>.py`` calls :func:`main` with its step name. Every command but ``bench`` holds
the lake's lease (:mod:`lakerec.core.lease`).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from lakerec.cli.pipeline import PIPELINE, STEPS
from lakerec.core.config import Config, load_config
from lakerec.core.errors import ConfigError, LakerecError
from lakerec.core.pii import pii_key
from lakerec.core.step import StepResult
from lakerec.core.tables import Layer

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

EXTRA_COMMANDS = ("run", "bench")


# How far past today (UTC) a run date may be: a day, for schedulers in other time zones.
RUN_DATE_TOLERANCE = timedelta(days=1)


def parse_run_date(text: str | None, *, today: date | None = None) -> date:
    """``YYYY-MM-DD``; today (UTC) when not given. A date past ``today`` plus
    :data:`RUN_DATE_TOLERANCE` is refused: it would write partitions and promote models for
    a day whose data cannot exist yet."""
    today = today or datetime.now(UTC).date()
    if text is None:
        return today
    try:
        run_date = date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--run-date must be a date as YYYY-MM-DD, got '{text}'") from None
    if run_date > today + RUN_DATE_TOLERANCE:
        raise ConfigError(f"--run-date {run_date} is in the future (today is {today} UTC): "
                          "a run is for a day whose data has landed")
    return run_date


def _common_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lakerec", description="Personalised marketing on a Delta lakehouse.")
    parser.add_argument("command", choices=[*STEPS, *EXTRA_COMMANDS],
                        help="a pipeline step, 'run' for the whole pipeline, or 'bench'")
    parser.add_argument("--conf", help="YAML config file overriding the defaults")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override one config key (dotted path)")
    parser.add_argument("--run-date", help="the date this run is for (YYYY-MM-DD; default today)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


# Commands that read or write personal data: they refuse to start without the key.
NEEDS_PII_KEY = ("run", "ingest", "conform", "forget")


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = _common_parser()
    args, rest = parser.parse_known_args(args_list)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S", stream=sys.stderr)
    for noisy in ("py4j", "mlflow", "great_expectations", "alembic", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        config = load_config(args.conf, args.overrides)
        if args.command == "bench":
            from lakerec.cli.bench import main as bench_main

            return bench_main(rest, config)
        run_date = parse_run_date(args.run_date)
        if args.command in NEEDS_PII_KEY:
            pii_key(config)  # before Spark starts: one line when the key is missing
        if args.command == "run":
            run_options = _run_parser().parse_args(rest)
            return run_pipeline(config, run_date, skip=frozenset(run_options.skip))
        from lakerec.cli.runner import new_run_id, run_step, spark_for, step_module
        from lakerec.core.lake import Lake
        from lakerec.core.lease import lake_lease

        module = step_module(args.command)
        step_parser = argparse.ArgumentParser(prog=f"lakerec {args.command}")
        if hasattr(module, "add_arguments"):
            module.add_arguments(step_parser)
        options = vars(step_parser.parse_args(rest))
        spark = spark_for(config)
        lake = Lake(spark, config.paths.root)
        lake.ensure_writable()
        with lake_lease(lake, config.lease, new_run_id()):
            run_step(args.command, config, run_date, spark=spark, options=options)
        return 0
    except LakerecError as exc:
        print(f"lakerec {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code


def _run_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lakerec run")
    parser.add_argument(
        "--skip", action="append", default=[], metavar="STEP",
        choices=sorted({step for step, _ in PIPELINE}),
        help="leave out this step (repeatable), e.g. --skip train to score with the current "
             "champion as the daily DAG does; 'quality' leaves out every gate")
    return parser


def run_pipeline(config: Config, run_date: date, *, skip: frozenset[str] = frozenset()) -> int:
    """Run the steps of :data:`PIPELINE` not in ``skip`` in one Spark session, in order;
    stop at the first failure."""
    from lakerec.cli.runner import new_run_id, spark_for
    from lakerec.core.lake import Lake
    from lakerec.core.lease import lake_lease

    pii_key(config)
    pipeline_run_id = new_run_id()
    spark = spark_for(config)
    lake = Lake(spark, config.paths.root)
    lake.ensure_writable()
    with lake_lease(lake, config.lease, pipeline_run_id):
        return _run_steps(config, run_date, spark, pipeline_run_id, skip)


def _run_steps(config: Config, run_date: date, spark: SparkSession, pipeline_run_id: str,
               skip: frozenset[str]) -> int:
    from lakerec.cli.runner import run_step, step_label

    steps = [(step, options) for step, options in PIPELINE if step not in skip]
    skipped = f" (skipping {', '.join(sorted(skip))})" if skip else ""
    print(f"lakerec run {pipeline_run_id}: {len(steps)} steps for {run_date.isoformat()}, "
          f"tables under {config.paths.root}{skipped}")
    done: list[tuple[str, float, StepResult]] = []
    for step, options in steps:
        started = time.monotonic()
        result = run_step(step, config, run_date, spark=spark, options=options,
                          pipeline_run_id=pipeline_run_id)
        done.append((step_label(step, options), time.monotonic() - started, result))
    print("\n".join(pipeline_report(pipeline_run_id, config, done)))
    return 0


def pipeline_report(pipeline_run_id: str, config: Config,
                    done: Sequence[tuple[str, float, StepResult]]) -> list[str]:
    """What a whole run produced: each step's time, rows and table versions, then where to
    look at the results."""
    total = sum(seconds for _, seconds, _ in done)
    width = max([len("step"), *(len(label) for label, _, _ in done)]) + 2
    lines = [f"lakerec run {pipeline_run_id}: done in {total / 60:.1f} min. What it produced:",
             f"  {'step':<{width}}{'time':>6}{'rows out':>12}  tables written (Delta version)"]
    for label, seconds, result in done:
        rows = "-" if result.rows_out is None else f"{result.rows_out:,}"
        tables = ", ".join(f"{name} v{version}"
                           for name, version in result.versions_written.items()) or "-"
        lines.append(f"  {label:<{width}}{seconds:>5.0f}s{rows:>12}  {tables}")
    gold = sorted({name.split(".", 1)[1] for _, _, result in done
                   for name in result.versions_written if name.startswith(f"{Layer.GOLD}.")})
    highlights = [f"  {label}: {h}" for label, _, result in done for h in result.highlights]
    if highlights:
        lines += ["Results:", *highlights]
    warnings = [f"  {label}: {w}" for label, _, result in done for w in result.warnings]
    if warnings:
        lines += ["Warnings:", *warnings]
    root = config.paths.root
    lines += [
        "Where to look:",
        f"  gold tables   {root}/gold/<table>: {', '.join(gold) or 'none written'}",
        f"  run log       {root}/ops/pipeline_runs (every step, with its Delta versions)",
        f"  quarantine    {root}/quarantine/<table> (rejected rows, with their reason)",
        f"  data quality  {config.paths.data_docs} (Great Expectations Data Docs)",
        f"  models        MLflow at {config.mlflow.tracking_uri} (`make mlflow-ui`)",
    ]
    return lines


if __name__ == "__main__":
    sys.exit(main())

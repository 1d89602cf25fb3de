"""The ranking bench's table: each system's share of the ceiling, the best NDCG@10 any system
reached on the same dataset and protocol (no Spark)."""

from __future__ import annotations

from lakerec.cli.bench_ranking import METRICS, table


def record(dataset: str, protocol: str, system: str, ndcg: float) -> dict:
    return {"dataset": dataset, "protocol": protocol, "system": system, "seconds": 1.0,
            "metrics": {metric: ndcg if metric == "ndcg@10" else 0.5 for metric in METRICS}}


def shares(markdown: str) -> dict[tuple[str, str, str], str]:
    rows = [line.strip("|").split("|") for line in markdown.splitlines()[2:]]
    return {(r[0].strip(), r[1].strip(), r[2].strip()): r[-1].strip() for r in rows}


def test_the_share_is_of_the_best_system_of_the_same_dataset_and_protocol() -> None:
    records = [record("a", "time", "popularity", 0.10), record("a", "time", "pipeline", 0.19),
               record("a", "time", "exhaustive", 0.20),
               # the exhaustive search missed the point the default search found
               record("a", "random", "als_searched", 0.40),
               record("a", "random", "exhaustive", 0.30),
               record("a", "random", "pipeline", 0.38)]
    assert shares(table(records)) == {
        ("a", "time", "popularity"): "50%", ("a", "time", "pipeline"): "95%",
        ("a", "time", "exhaustive"): "100%", ("a", "random", "als_searched"): "100%",
        ("a", "random", "exhaustive"): "75%", ("a", "random", "pipeline"): "95%"}


def test_a_later_record_of_the_same_system_replaces_the_earlier_one() -> None:
    records = [record("a", "time", "exhaustive", 0.20), record("a", "time", "pipeline", 0.10),
               record("a", "time", "pipeline", 0.15)]
    assert shares(table(records))[("a", "time", "pipeline")] == "75%"


def test_an_earlier_record_still_counts_for_the_ceiling() -> None:
    # a later, smaller exhaustive search found less: what the data allows is still 0.20
    records = [record("a", "time", "exhaustive", 0.20), record("a", "time", "pipeline", 0.19),
               record("a", "time", "exhaustive", 0.18)]
    assert shares(table(records)) == {("a", "time", "pipeline"): "95%",
                                      ("a", "time", "exhaustive"): "90%"}


def test_rows_are_grouped_by_dataset_and_protocol_with_systems_in_the_bench_order() -> None:
    # a reference measured later, on its own, lands beside the other systems of its split
    records = [record("a", "time", "pipeline", 0.2), record("b", "time", "pipeline", 0.2),
               record("a", "time", "popularity", 0.1), record("a", "time", "ease", 0.2),
               record("b", "time", "ease", 0.2)]
    # EASE, a family of the pipeline since 2026-12-06, comes before it
    assert list(shares(table(records))) == [
        ("a", "time", "popularity"), ("a", "time", "ease"), ("a", "time", "pipeline"),
        ("b", "time", "ease"), ("b", "time", "pipeline")]

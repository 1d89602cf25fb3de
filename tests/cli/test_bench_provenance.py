"""Each bench record names the code it ran (``lakerec.cli.bench.code_version``)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from lakerec.cli.bench import code_version


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_the_commit_is_the_clones_and_dirty_only_for_changed_code(tmp_path: Path) -> None:
    package = tmp_path / "lib" / "lakerec"
    package.mkdir(parents=True)
    (package / "step.py").write_text("x = 1\n")
    (tmp_path / "bench" / "results").mkdir(parents=True)
    (tmp_path / "bench" / "results" / "ranking.jsonl").write_text("{}\n")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-q",
        "-m", "first")
    head = git(tmp_path, "rev-parse", "HEAD")
    assert code_version(package) == head
    # a bench appending its record does not make the code dirty; a changed module does
    (tmp_path / "bench" / "results" / "ranking.jsonl").write_text("{}\n{}\n")
    assert code_version(package) == head
    (package / "step.py").write_text("x = 2\n")
    assert code_version(package) == f"{head}-dirty"


def test_no_commit_outside_a_clone(tmp_path: Path) -> None:
    package = tmp_path / "site-packages" / "lakerec"
    package.mkdir(parents=True)
    assert code_version(package) is None


def test_lakerecs_own_commit_when_run_from_its_clone() -> None:
    package = Path(__file__).resolve().parents[2] / "lib" / "lakerec"
    if not (package.parents[1] / ".git").exists():
        pytest.skip("not run from a clone of lakerec")
    assert code_version().removesuffix("-dirty") == git(package.parents[1], "rev-parse", "HEAD")

"""The CLI's one-line errors and exit codes."""

from __future__ import annotations

import pytest

from lakerec.cli.main import main
from tests.conftest import TEST_SPARK


def paths(tmp_path) -> list[str]:
    args = []
    for key in ("root", "landing", "checkpoint", "ground_truth", "data_docs", "artifacts"):
        args += ["--set", f"paths.{key}={tmp_path}/{key}"]
    for setting in TEST_SPARK:
        args += ["--set", setting]
    return args


@pytest.mark.parametrize(("args", "message"), [
    (["ingest", "--run-date", "2026-13-45"], "--run-date must be a date as YYYY-MM-DD"),
    (["ingest", "--run-date", "2099-01-01"], "--run-date 2099-01-01 is in the future"),
    (["ingest", "--set", "paths.nope=1"], "unknown key 'paths.nope'"),
    (["ingest", "--conf", "missing.yaml"], "config file missing.yaml does not exist"),
])
def test_bad_arguments_give_one_line_and_exit_2(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and err[0].startswith("lakerec ingest: error:")


def test_a_run_date_may_be_tomorrow_but_not_later() -> None:
    from datetime import date

    from lakerec.cli.main import parse_run_date
    from lakerec.core.errors import ConfigError

    today = date(2026, 12, 2)
    assert parse_run_date("2026-12-03", today=today) == date(2026, 12, 3)  # another time zone
    assert parse_run_date(None, today=today) == today
    with pytest.raises(ConfigError, match="in the future"):
        parse_run_date("2026-12-04", today=today)


def test_run_refuses_to_skip_a_step_it_does_not_have(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["run", "--skip", "trian"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "lakerec run: error: argument --skip: invalid choice: 'trian'" in err
    assert "'train'" in err  # the choices are listed


def test_a_missing_landing_folder_stops_ingest(spark, tmp_path, capsys):
    assert main(["ingest", *paths(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"landing folder {tmp_path}/landing/events does not exist" in err


@pytest.mark.parametrize("command", ["run", "ingest", "conform", "forget"])
def test_outside_the_local_profile_personal_data_needs_a_key(command, tmp_path, capsys,
                                                             monkeypatch):
    monkeypatch.delenv("LAKEREC_PII_KEY", raising=False)
    assert main([command, "--set", "profile=prod", *paths(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "needs a pseudonymisation key in $LAKEREC_PII_KEY" in err[0]


def test_the_dags_default_config_is_a_production_profile_that_needs_the_key(capsys,
                                                                            monkeypatch):
    """A scheduled run with the DAGs' default config and no key fails in its first task
    (ingest), with one line saying why."""
    from lakerec.core.config import load_config
    from tests.conftest import REPO

    monkeypatch.syspath_prepend(str(REPO / "airflow_dags"))
    from lakerec_airflow import lakerec_params

    default = REPO / lakerec_params()["conf_file"].value
    assert load_config(default, environ={}).profile != "local"
    monkeypatch.delenv("LAKEREC_PII_KEY", raising=False)
    assert main(["ingest", "--conf", str(default)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "$LAKEREC_PII_KEY" in err[0]

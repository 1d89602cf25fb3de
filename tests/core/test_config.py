from __future__ import annotations

import pytest

from lakerec.core.config import load_config, with_overrides
from lakerec.core.errors import ConfigError
from tests.conftest import REPO


def test_every_shipped_config_loads():
    for name in ("base.yaml", "local.yaml", "prod.example.yaml"):
        config = load_config(REPO / "conf" / name, environ={})
        assert config.spark.app_name == "lakerec"
    assert load_config(REPO / "conf" / "prod.example.yaml", environ={}).spark.master is None


def test_overrides_are_typed_and_spark_keys_keep_their_dots():
    config = load_config(None, ["generate.customers=500", "spark.conf.spark.sql.shuffle."
                                "partitions=3", "paths.root=/tmp/x"], environ={})
    assert config.generate.customers == 500
    assert config.spark.conf["spark.sql.shuffle.partitions"] == 3
    assert config.paths.root == "/tmp/x"


def test_environment_variables_override_the_file_and_set_overrides_them():
    env = {"LAKEREC__GENERATE__SEED": "7", "LAKEREC__PATHS__ROOT": "/env"}
    config = load_config(None, ["paths.root=/cli"], environ=env)
    assert (config.generate.seed, config.paths.root) == (7, "/cli")


@pytest.mark.parametrize(("override", "message"), [
    ("paths.rooot=/x", "unknown key 'paths.rooot'"),
    ("generate.customers=many", "'generate.customers'"),
    ("generate.customers=-5", "'generate.customers'"),
    ("ingest.events_adapter=magic", "'ingest.events_adapter'"),
    ("nonsense", "--set expects key=value"),
    ("recommend.search.prune_after_iterations=12", "must be below the iterations of a search"),
])
def test_bad_overrides_name_the_key(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override], environ={})


def test_config_objects_are_frozen():
    config = load_config(None, environ={})
    with pytest.raises(Exception, match="frozen"):
        config.paths.root = "/elsewhere"  # type: ignore[misc]


def test_a_missing_config_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml", environ={})


def test_with_overrides_changes_a_loaded_config_and_checks_it():
    config = load_config(None, environ={})
    changed = with_overrides(config, ["recommend.split.protocol=random",
                                      "generate.customers=50"])
    assert changed.recommend.split.protocol == "random"
    assert changed.generate.customers == 50
    assert changed.recommend.blend == config.recommend.blend   # the rest is kept
    assert config.recommend.split.protocol == "time"            # the original is unchanged
    with pytest.raises(ConfigError, match=r"recommend\.split\.protocol"):
        with_overrides(config, ["recommend.split.protocol=sideways"])

"""Campaign YAML files: validated like the config, unknown keys rejected with one line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lakerec.core.campaigns import find_campaign, load_campaign
from lakerec.core.errors import ConfigError
from tests.conftest import REPO

EXAMPLES = REPO / "conf" / "campaigns"


def test_every_example_campaign_is_valid() -> None:
    files = sorted(EXAMPLES.glob("*.yaml"))
    assert files
    for path in files:
        assert load_campaign(path).name == path.stem
    winback = find_campaign(EXAMPLES, "winback")
    assert winback.send_date is None and winback.holdout_share == 0.2
    assert winback.offer.kind == "recommendations" and winback.decision.min_lift == 0.01


def write(tmp_path: Path, change: dict) -> Path:
    data = yaml.safe_load((EXAMPLES / "winback.yaml").read_text())
    for dotted, value in change.items():
        *parents, key = dotted.split(".")
        node = data
        for parent in parents:
            node = node[parent]
        node[key] = value
    path = tmp_path / f"{data['name']}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(("change", "message"), [
    ({"audience.segment": ["at risk"]}, "unknown key 'audience.segment'"),
    ({"holdout_share": 1.5}, "'holdout_share'"),
    ({"offer.kind": "category"}, "needs 'category'"),
    ({"offer.kind": "items"}, "needs a non-empty 'items' list"),
    ({"audience.min_recency_days": 400}, "above max_recency_days"),
    ({"objective.kind": "click"}, "'objective.kind'"),
])
def test_a_bad_campaign_is_one_line_naming_the_key(tmp_path: Path, change: dict,
                                                   message: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_campaign(write(tmp_path, change))
    assert message in str(error.value) and "\n" not in str(error.value)


def test_the_file_name_is_the_campaign_name_and_unknown_names_list_the_known(
        tmp_path: Path) -> None:
    path = write(tmp_path, {})
    path.rename(tmp_path / "other.yaml")
    with pytest.raises(ConfigError, match=r"name the file winback\.yaml"):
        load_campaign(tmp_path / "other.yaml")
    with pytest.raises(ConfigError, match=r"no campaign 'spring' in .* \(campaigns there: other\)"):
        find_campaign(tmp_path, "spring")

"""Typed, frozen configuration.

Layers, each overriding the one before: ``conf/base.yaml`` (every default, shipped inside
the package), the file given with ``--conf``, environment variables
``LAKEREC__SECTION__KEY=value`` and ``--set section.key=value`` arguments. Values given as
text (environment, ``--set``) are parsed as YAML scalars, so ``--set generate.customers=500``
is an integer. An unknown key or a value of the wrong type raises :class:`ConfigError`
naming the dotted key.

Functions elsewhere never read configuration themselves: the CLI loads it once and passes
the sections they need.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from lakerec.core.errors import ConfigError
from lakerec.core.settings import Config

ENV_PREFIX = "LAKEREC__"


def base_config_text() -> str:
    """The text of the shipped ``base.yaml`` (every default)."""
    return resources.files("lakerec.core").joinpath("base.yaml").read_text(encoding="utf-8")


def read_yaml(text: str, source: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source} is not valid YAML: {exc}".splitlines()[0]) from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{source} must hold a mapping of sections, not {type(data).__name__}")
    return data


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    # spark.conf keys contain dots themselves: everything after "spark.conf." is one key.
    if parts[:2] == ["spark", "conf"] and len(parts) > 2:
        parts = [*parts[:2], ".".join(parts[2:])]
    node = data
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"cannot set '{dotted}': '{part}' is a value, not a section")
        node = child
    node[parts[-1]] = value


def parse_assignment(text: str) -> tuple[str, Any]:
    """Split ``key=value`` and parse the value as a YAML scalar."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set expects key=value, got '{text}'")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.strip(), value


def describe_errors(exc: ValidationError, source: str) -> str:
    """One line naming every problem pydantic found in ``source``."""
    problems = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            problems.append(f"unknown key '{key}'")
        elif err["type"] == "missing":
            problems.append(f"missing key '{key}'")
        else:
            problems.append(f"'{key}': {err['msg']} (got {err.get('input')!r})")
    return f"config error in {source}: " + "; ".join(problems)


def load_config(
    conf_file: str | Path | None = None,
    overrides: Iterable[str] = (),
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Build the configuration from base defaults, a file, the environment and overrides.

    Parameters
    ----------
    conf_file
        A YAML file whose sections override ``base.yaml``.
    overrides
        ``dotted.key=value`` strings, applied last.
    environ
        Environment to read ``LAKEREC__SECTION__KEY`` variables from; ``os.environ`` if None.
    """
    data = read_yaml(base_config_text(), "base.yaml")
    sources = ["base.yaml"]
    if conf_file is not None:
        path = Path(conf_file)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        data = _merge(data, read_yaml(path.read_text(encoding="utf-8"), str(path)))
        sources.append(str(path))
    env = os.environ if environ is None else environ
    for name, raw in sorted(env.items()):
        if name.startswith(ENV_PREFIX):
            dotted = ".".join(name[len(ENV_PREFIX):].lower().split("__"))
            _set_dotted(data, dotted, parse_assignment(f"{dotted}={raw}")[1])
            sources.append(f"${name}")
    for assignment in overrides:
        key, value = parse_assignment(assignment)
        _set_dotted(data, key, value)
        sources.append(f"--set {key}")
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc, " + ".join(sources))) from exc


def with_overrides(config: Config, overrides: Iterable[str]) -> Config:
    """``config`` with ``dotted.key=value`` strings applied, as ``--set`` would."""
    data = config.model_dump(mode="json")
    for assignment in overrides:
        key, value = parse_assignment(assignment)
        _set_dotted(data, key, value)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc, "overrides " + " ".join(overrides))) from exc

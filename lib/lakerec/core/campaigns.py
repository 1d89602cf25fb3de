"""Campaign definitions: one YAML file per campaign under ``conf/campaigns/``, validated like
the rest of the config (unknown keys are errors, one line says which).

Campaign definitions are configuration, read by the campaign step and by the generator
(which plants past campaigns in synthetic data), so they live in core.

A campaign names its objective (a purchase of an offered item, or any purchase, within an
attribution window), its audience rule, its offer, the channel, the send date, the share of
the audience held out as control, an optional cap with the rule that chooses among a larger
audience, and the decision rule it is judged by, fixed before it is sent.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, model_validator

from lakerec.core.config import describe_errors, read_yaml
from lakerec.core.errors import ConfigError
from lakerec.core.settings import Section


class Objective(Section):
    """What counts as a conversion: a purchase of an offered item, or any purchase, within
    ``window_days`` after the send (control customers on the same window)."""

    kind: Literal["offered_item", "any_purchase"]
    window_days: int = Field(gt=0)


class Audience(Section):
    """Who may be targeted. Recency is days since the customer's last purchase."""

    segments: tuple[str, ...] = ()             # segment labels; empty: every segment
    active_within_days: int | None = Field(default=None, gt=0)
    min_recency_days: int | None = Field(default=None, ge=0)
    max_recency_days: int | None = Field(default=None, ge=0)
    consent_required: bool = True
    # leave out customers another campaign contacted within this many days (0: nobody)
    contact_cooldown_days: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _recency_range(self) -> Audience:
        low, high = self.min_recency_days, self.max_recency_days
        if low is not None and high is not None and low > high:
            raise ValueError(f"min_recency_days {low} is above max_recency_days {high}")
        return self


class Offer(Section):
    """What treated customers are offered: their top ``top_n`` recommendations, a category, or
    a fixed list of items."""

    kind: Literal["recommendations", "category", "items"]
    top_n: int = Field(default=3, gt=0)
    category: str | None = None
    items: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _what(self) -> Offer:
        if self.kind == "category" and not self.category:
            raise ValueError("an offer of kind 'category' needs 'category'")
        if self.kind == "items" and not self.items:
            raise ValueError("an offer of kind 'items' needs a non-empty 'items' list")
        return self


class Decision(Section):
    """The pre-registered rule: ``won`` when the lift in ``metric`` is positive, at least
    ``min_lift`` (absolute), and significant at ``alpha`` after the Holm correction across
    segments; ``lost`` when significantly negative; else ``inconclusive``."""

    metric: Literal["conversion", "revenue"] = "conversion"
    alpha: float = Field(default=0.05, gt=0, lt=1)
    min_lift: float = Field(default=0.0, ge=0)
    power: float = Field(default=0.8, gt=0, lt=1)   # for the plan's minimum detectable effect


class Campaign(Section):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    objective: Objective
    audience: Audience
    offer: Offer
    channel: str = Field(min_length=1)
    # null: planned for the run date it is planned on; a campaign sent by a channel outside
    # lakerec takes its send date from the channel's contact log (silver.contacts)
    send_date: date | None = None
    # plan: lakerec plans the audience (`campaign plan`); contacts: a channel chose and sent
    # it, and its log (silver.contacts) says who was sent and who held out: measured only
    audience_source: Literal["plan", "contacts"] = "plan"
    holdout_share: float = Field(gt=0, lt=1)
    max_audience: int | None = Field(default=None, gt=0)
    selection: Literal["random", "uplift"] = "random"  # who is kept when over max_audience
    salt: str = Field(min_length=1)   # group assignment hashes (customer, campaign, salt)
    decision: Decision = Decision()

    @property
    def sent_on(self) -> date:
        """The send date, once known: the definition's, the run date it is planned on, or
        the day of its first contact in the channel's log."""
        if self.send_date is None:
            raise ConfigError(f"campaign {self.name} has no send date yet")
        return self.send_date


def load_campaign(path: str | Path) -> Campaign:
    """The campaign defined in ``path``; :class:`ConfigError` naming every problem."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"campaign file {path} does not exist")
    data = read_yaml(path.read_text(encoding="utf-8"), str(path))
    try:
        campaign = Campaign.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc, str(path))) from exc
    if campaign.name != path.stem:
        raise ConfigError(f"{path} defines campaign '{campaign.name}': name the file "
                          f"{campaign.name}.yaml")
    return campaign


def find_campaign(folder: str | Path, name: str) -> Campaign:
    """Campaign ``name`` from ``folder/<name>.yaml``; the error lists the campaigns there."""
    folder = Path(folder)
    path = folder / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in folder.glob("*.yaml"))
        raise ConfigError(f"no campaign '{name}' in {folder} (campaigns there: "
                          f"{', '.join(known) or 'none'})")
    return load_campaign(path)

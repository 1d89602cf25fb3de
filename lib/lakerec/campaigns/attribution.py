"""A campaign's outcomes with purchases attributed across every campaign in the lake: the
attribution windows come from the campaigns' definitions (:mod:`lakerec.campaigns.measure`
holds the attribution rule itself). Shared by ``campaign measure`` and ``campaign uplift``."""

from __future__ import annotations

import logging

from pyspark.sql import DataFrame

from lakerec.campaigns import measure as M
from lakerec.core.campaigns import Campaign, find_campaign
from lakerec.core.errors import ConfigError
from lakerec.core.schemas import CAMPAIGN_ID

log = logging.getLogger("lakerec.campaigns")


def _windows(folder: str, names: list[str]) -> dict[str, int]:
    """Attribution windows of the campaigns named, from their definitions where they exist."""
    windows = {}
    for name in names:
        try:
            windows[name] = find_campaign(folder, name).objective.window_days
        except ConfigError:
            log.warning("campaign %s has no definition in %s: its purchases are attributed "
                        "to the others", name, folder)
    return windows


def attributed_outcomes(folder: str, campaign: Campaign, audiences: DataFrame,
                        mine: DataFrame, events: DataFrame) -> DataFrame:
    """``mine`` (the campaign's audience rows) with ``converted`` and ``revenue``, purchases
    attributed by last touch across every campaign of ``audiences`` (the others' windows
    from their definitions in ``folder``)."""
    others = [r[0] for r in audiences.select(CAMPAIGN_ID).distinct().collect()]
    windows = _windows(folder, others) | {campaign.name: campaign.objective.window_days}
    attributed = M.attributed_purchases(events, audiences, windows)
    return M.outcomes(mine, attributed, campaign)

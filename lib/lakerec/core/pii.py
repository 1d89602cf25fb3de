"""Personal data: the pseudonymisation key, keyed pseudonyms, and what counts as personal.

A pseudonym is the hex HMAC-SHA256 (RFC 2104) of a normalised value under the key. It is
computed by Python's :mod:`hmac` inside a pandas UDF that holds the key in its closure, so the
key is never a literal of a Spark plan: ``explain()``, the Spark UI's SQL tab and event logs
show only the UDF's name. (An earlier version computed HMAC with Spark's ``sha2`` over the
padded key as a binary literal, which printed the key in every plan.)

The key comes from the environment variable named by ``privacy.pii_key_env``. Only profile
``local`` may fall back to the public development key, and then says so.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from dataclasses import dataclass, field

import pandas as pd
from pyspark.sql import Column
from pyspark.sql import functions as F

from lakerec.core.errors import ConfigError
from lakerec.core.settings import Config

log = logging.getLogger("lakerec.pii")

LOCAL_PROFILE = "local"  # the only profile allowed to use the development key
EMAIL_PATTERN = r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$"


@dataclass(frozen=True)
class PiiKey:
    """The pseudonymisation key; ``development`` when it is the public development key."""

    secret: bytes = field(repr=False)
    development: bool = False

    def pseudonym_of(self, value: str) -> str:
        """The pseudonym of one value, computed here in Python (audit rows, erasure)."""
        return hmac.new(self.secret, value.encode("utf-8"), hashlib.sha256).hexdigest()

    def pseudonym(self, value: Column) -> Column:
        """The pseudonym of each value of ``value`` (text); null stays null."""
        digest = self.pseudonym_of

        @F.pandas_udf("string")  # type: ignore[call-overload]
        def hmac_sha256(values: pd.Series) -> pd.Series:
            return values.map(digest, na_action="ignore")

        return hmac_sha256(value)


def pii_key(config: Config) -> PiiKey:
    """The key in ``$<privacy.pii_key_env>``; under profile ``local`` only, the development
    key when the variable is unset. Any other profile without the variable is refused."""
    privacy = config.privacy
    secret = os.environ.get(privacy.pii_key_env)
    if secret:
        return PiiKey(secret.encode("utf-8"))
    if config.profile == LOCAL_PROFILE:
        log.warning("$%s is not set: pseudonymising with the public development key (profile "
                    "local only)", privacy.pii_key_env)
        return PiiKey(privacy.local_pii_key.encode("utf-8"), development=True)
    raise ConfigError(missing_key_message(config))


def missing_key_message(config: Config) -> str:
    return (f"profile '{config.profile}' needs a pseudonymisation key in "
            f"${config.privacy.pii_key_env}; refusing to run without it (the development key "
            f"works only under profile '{LOCAL_PROFILE}')")


def normalized_email(value: Column) -> Column:
    return F.lower(F.trim(value))


def normalized_name(value: Column) -> Column:
    """Lower case, single spaces; null when blank."""
    name = F.lower(F.regexp_replace(F.trim(value), r"\s+", " "))
    return F.when(name == "", None).otherwise(name)


def normalized_phone(value: Column) -> Column:
    """The digits of a phone number; null when there are none."""
    digits = F.regexp_replace(value, r"[^0-9]", "")
    return F.when(digits == "", None).otherwise(digits)

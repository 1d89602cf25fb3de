"""Keyed pseudonyms for personal data: HMAC-SHA256 computed by Spark itself.

HMAC(K, m) = H((K' xor opad) || H((K' xor ipad) || m)) (RFC 2104), with H = SHA-256 and K'
the key padded to the 64-byte block. The padded keys are binary literals, so the whole
computation runs in the JVM with no Python UDF; ``tests/conform/test_pii.py`` checks it against
Python's :mod:`hmac`.
"""

from __future__ import annotations

import hashlib

from pyspark.sql import Column
from pyspark.sql import functions as F

BLOCK_SIZE = 64


def _padded_keys(key: bytes) -> tuple[bytes, bytes]:
    if len(key) > BLOCK_SIZE:
        key = hashlib.sha256(key).digest()
    key = key.ljust(BLOCK_SIZE, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def hmac_sha256(value: Column, key: bytes) -> Column:
    """Hex HMAC-SHA256 of the UTF-8 text ``value`` under ``key``; null stays null."""
    inner_key, outer_key = _padded_keys(key)
    inner = F.unhex(F.sha2(F.concat(F.lit(inner_key), F.encode(value, "UTF-8")), 256))
    return F.sha2(F.concat(F.lit(outer_key), inner), 256)


def normalized_email(value: Column) -> Column:
    return F.lower(F.trim(value))


def normalized_name(value: Column) -> Column:
    return F.lower(F.regexp_replace(F.trim(value), r"\s+", " "))


def normalized_phone(value: Column) -> Column:
    digits = F.regexp_replace(value, r"[^0-9]", "")
    return F.when(digits == "", None).otherwise(digits)

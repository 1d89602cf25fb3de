"""Upkeep of the lake: compaction, old files, constraints (``lakerec maintain``)."""

"""Landing files into bronze tables (``lakerec ingest``).

- :mod:`lakerec.ingest.landing`: finding and reading landing files (CSV, JSON lines, Parquet);
- :mod:`lakerec.ingest.adapters`: other shapes onto the event contract (Online Retail);
- :mod:`lakerec.ingest.contract`: required columns and lineage columns;
- :mod:`lakerec.ingest.ingest_step`: the ``ingest`` step.
"""

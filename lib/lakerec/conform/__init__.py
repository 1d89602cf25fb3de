"""Bronze into typed, clean, pseudonymised silver, and quarantine (``lakerec conform``).

- :mod:`lakerec.conform.parsing`: trimmed text, timestamps, row hashes, first failing rule;
- :mod:`lakerec.conform.rules`: events: validation, deduplication, what is still pending;
- :mod:`lakerec.conform.entities`: customers and items, and both as seen in events;
- :mod:`lakerec.conform.pending`: the bronze rows waiting for conform (reads the lake);
- personal columns arrive pseudonymised by ingest (:mod:`lakerec.ingest.personal`);
- :mod:`lakerec.conform.conform_step`: the ``conform`` step.
"""

"""Bronze into typed, clean, pseudonymised silver, and quarantine (``lakerec conform``).

- :mod:`lakerec.conform.rules`: parsing, validation and deduplication transforms;
- :mod:`lakerec.conform.pii`: keyed pseudonyms of personal data;
- :mod:`lakerec.conform.conform_step`: the ``conform`` step.
"""

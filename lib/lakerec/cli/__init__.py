"""The command line, and the only package that imports every stage.

- :mod:`lakerec.cli.main`: ``lakerec <step>`` and ``lakerec run``;
- :mod:`lakerec.cli.pipeline`: the steps, their modules and the order of ``lakerec run``;
- :mod:`lakerec.cli.runner`: runs one step and records it in ``ops.pipeline_runs``;
- :mod:`lakerec.cli.bench`: ``lakerec bench``.
"""

from lakerec.cli.main import main

__all__ = ["main"]

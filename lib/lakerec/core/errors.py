"""Named exceptions for lakerec's domain errors.

Every error a user can cause (bad config, bad input, failed checks) is a subclass of
:class:`LakerecError`; the CLI prints its message on one line and exits non-zero, without a
traceback. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class LakerecError(Exception):
    """Base class of the errors a user can cause and fix.

    A step that stops with one may set ``result`` (its :class:`~lakerec.core.step.StepResult`
    so far: rows read and refused) for the runner to record in ``ops.pipeline_runs``.
    """

    exit_code = 2
    result: object | None = None


class ConfigError(LakerecError):
    """A configuration key is unknown, has the wrong type, or a required value is missing."""


class InputError(LakerecError):
    """Landing data is missing, empty or unreadable."""


class MissingColumnError(InputError):
    """A table or file lacks a required column."""

    def __init__(self, what: str, column: str) -> None:
        super().__init__(f"{what} has no column '{column}'")
        self.what = what
        self.column = column


class TableNotFoundError(InputError):
    """A Delta table a step needs has not been written yet."""

    def __init__(self, name: str, path: str, hint: str = "") -> None:
        message = f"table {name} does not exist at {path}"
        super().__init__(f"{message}; {hint}" if hint else message)


class QualityError(LakerecError):
    """An error-level data quality check failed; downstream steps must not run."""

    exit_code = 3


class LakeBusyError(LakerecError):
    """Another run holds the lake's lease (:mod:`lakerec.core.lease`)."""

    exit_code = 4


class LakeNotWritableError(LakerecError):
    """The lake's files cannot be written (a read-only mount, wrong owner or permissions):
    nothing can be changed, and the run cannot be recorded in ``ops.pipeline_runs``."""

    exit_code = 5

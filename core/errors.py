"""Errors a user can cause, each with a message that says what happened and what to do."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class WorkbenchError(Exception):
    """Base class: its message is shown to the user as it is."""


class CsvUnreadable(WorkbenchError):
    """The uploaded file could not be parsed as a table."""


class FileRefused(WorkbenchError):
    """The uploaded file breaks a limit (size, columns, compression ratio) or is empty."""


class AlreadyLoaded(WorkbenchError):
    """The same file content is already a dataset in the workspace."""

    def __init__(self, message: str, dataset_id: str):
        super().__init__(message)
        self.dataset_id = dataset_id


class NotFound(WorkbenchError):
    """A dataset, column, project or other named thing does not exist."""


class NameInvalid(WorkbenchError):
    """A name typed by the user cannot be used."""


class InUse(WorkbenchError):
    """Something cannot be deleted because other objects depend on it."""


class WorkspaceLocked(WorkbenchError):
    """Another program holds the workspace file."""


class TargetNotUsable(WorkbenchError):
    """The chosen target column cannot be predicted (one class, all missing, …)."""


class SpecInvalid(WorkbenchError):
    """A set of choices (split, model, rollout) is inconsistent or out of range."""


class QueryRefused(WorkbenchError):
    """User SQL that is not a single read-only SELECT, or that broke a limit."""


class ArtifactRejected(WorkbenchError):
    """A saved file failed its integrity or safety check and was not loaded."""


class PermissionDenied(WorkbenchError):
    """A viewer tried to change something."""


class SchemaMismatch(WorkbenchError):
    """Data does not match the columns and types a model or report expects."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Returns ' Did you mean 'x'?' for the closest choice, or '' when nothing is close."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def unknown(kind: str, name: str, choices: Iterable[str], where: str = "") -> NotFound:
    """Builds a NotFound error for an unknown name, suggesting the nearest known one."""
    choices = list(choices)
    place = f" in {where!r}" if where else ""
    return NotFound(f"No {kind} {name!r}{place}.{did_you_mean(name, choices)}")

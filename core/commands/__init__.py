"""CLI commands: every module here that defines `register(subparsers)` is added to `workbench` automatically."""

from __future__ import annotations

import importlib
import pkgutil

from core.data.samples import open_workspace


def register_all(subparsers) -> None:
    """Imports each command module of this package and lets it add its subcommands."""
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(subparsers)


def workspace_for(args, *, seed_samples: bool = False):
    """Opens the workspace named by --home / WORKBENCH_HOME for a command."""
    return open_workspace(getattr(args, "home", None), seed_samples=seed_samples)

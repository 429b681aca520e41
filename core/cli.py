"""The `workbench` command line: the same core as the app, no Streamlit."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from datetime import date, datetime
from pathlib import Path

from core.commands import register_all
from core.errors import WorkbenchError


def _default(o):
    if isinstance(o, (datetime, date)):
        return o.isoformat()
    if isinstance(o, Path):
        return str(o)
    if hasattr(o, "item"):
        return o.item()
    if hasattr(o, "tolist"):
        return o.tolist()
    if hasattr(o, "to_dict"):
        return o.to_dict()
    return str(o)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbench", description="AI Product Workbench, headless.")
    parser.add_argument("--home", help="workspace folder (default: $WORKBENCH_HOME or ./workspace)")
    parser.add_argument("--compute", help="where training and scoring run: local (default), dask-local[:N], or a "
                                          "Dask scheduler such as tcp://host:8786 (default: $WORKBENCH_COMPUTE)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    register_all(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs one command; JSON on stdout, plain errors on stderr with exit code 2."""
    os.environ.setdefault("DO_NOT_TRACK", "1")
    logging.basicConfig(level=logging.WARNING)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.home:
        os.environ["WORKBENCH_HOME"] = args.home
    if args.compute:
        os.environ["WORKBENCH_COMPUTE"] = args.compute
    try:
        if args.compute:
            from core.models.compute import parse

            parse(args.compute)  # a mistyped setting is refused before any work starts
        result = args.func(args)
    except WorkbenchError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if result is None:
        return 0
    if getattr(args, "json", False) or not isinstance(result, str):
        print(json.dumps(result, default=_default, indent=2))
    else:
        print(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Shared plumbing of the stage scripts: logging to the rule's log, one clear error line."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from genhep.errors import GenhepError

log = logging.getLogger("genhep")


def json_arg(text: str):
    """argparse type: a JSON document given on the command line."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"not valid JSON: {err}") from err


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--log", type=Path, help="log file (the rule's log:); default: stderr only")
    return p


def _setup_logging(log_path: Path | None) -> None:
    log.setLevel(logging.INFO)
    log.handlers.clear()
    stderr = logging.StreamHandler(sys.stderr)
    # In a workflow the log file has the details; the console gets warnings and errors.
    stderr.setLevel(logging.WARNING if log_path else logging.INFO)
    stderr.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(stderr)
    if log_path:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_path, mode="w")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(handler)


def run(
    stage: str,
    main: Callable[[argparse.Namespace], None],
    args: argparse.Namespace,
    gpu: bool = False,
) -> None:
    """Run ``main(args)``; a GenhepError becomes one line on stderr (and in the log), exit 1.

    ``gpu``: a stage that may run torch on a GPU; with several GPUs visible it takes one
    of its own first (``genhep.gpu_slots``).
    """
    from genhep.gpu_slots import gpu_for_this_job

    _setup_logging(args.log)
    try:
        with gpu_for_this_job() if gpu else contextlib.nullcontext():
            main(args)
    except GenhepError as err:
        # One line: messages from uproot and friends can span several.
        log.error("genhep %s: error: %s", stage, " ".join(str(err).split()))
        sys.exit(1)

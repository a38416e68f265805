"""Style is part of the suite, so CI enforces it: ruff for Python, snakefmt for Snakemake."""

import subprocess
import sys
from pathlib import Path

from conftest import REPO, env_with_venv

BIN = Path(sys.executable).parent


def check(*cmd):
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env_with_venv())
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_lint_and_format():
    paths = ["src", "workflow/scripts", "tests", "benchmarks"]
    check(BIN / "ruff", "check", "--no-cache", *paths)
    check(BIN / "ruff", "format", "--check", "--no-cache", *paths)


def test_snakefmt():
    check(BIN / "snakefmt", "--check", "workflow/Snakefile", "workflow/rules")

"""Measuring what a command costs: wall time and peak resident memory."""

from __future__ import annotations

import json
import subprocess
import sys

# A fresh interpreter runs the command as its only child, so RUSAGE_CHILDREN is that
# command's peak alone (not the largest of everything the caller ever started).
_WRAPPER = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE).returncode
seconds = time.perf_counter() - start
peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"returncode": rc, "seconds": seconds, "peak_rss_mb": peak_kb / 1024}))
"""


def measure_command(cmd: list, env: dict | None = None) -> dict:
    """Run ``cmd``; return its return code, wall seconds and peak RSS in MB (Linux)."""
    out = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *map(str, cmd)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(out.stdout)

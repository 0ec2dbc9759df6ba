"""The web benchmark runs end to end on a small archive and prints every figure (figures are not checked)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_web_benchmark_prints_server_and_end_to_end_figures():
    result = subprocess.run(
        [sys.executable, "-m", "bench.web", "--articles", "400", "--requests", "8", "--clients", "4"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for clients in (1, 4):
        assert re.search(rf"^{clients} concurrent client\(s\), \d+ requests", result.stdout, re.M), result.stdout
    for kind in ("page", "search", "feed"):
        assert len(re.findall(rf"^\s+{kind}\s+\d+\s+[\d.]+\s+[\d.]+\s+<= \d+ (ok|OVER)", result.stdout, re.M)) == 2

"""The crawl benchmark runs end to end on a small site and prints its ratios (figures are not checked)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_quick_benchmark_prints_every_figure():
    result = subprocess.run(
        [sys.executable, "-m", "bench.crawl", "--quick", "--outlet", "tienphong", "--outlet", "nhandan"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    # Only the look-alikes asked for, in the benchmark's own order.
    assert re.search(r"^\(b\) crawl: 2 look-alikes, ", out, re.M), out
    assert re.search(r"^\s+extraction ratio: page object is [\d.]+x faster than trafilatura", out, re.M), out
    assert re.search(r"^\s+crawl ratio real/bare: [\d.]+ \([\d.]+ vs [\d.]+ pages/s", out, re.M), out
    assert re.search(r"^\s+peak memory: real crawl +[\d.]+ MB, bare Scrapy +[\d.]+ MB", out, re.M), out
    assert re.search(r"^\s+memory vs archive size: (flat|GROWS)", out, re.M), out
    # Both crawls downloaded the same pages, and the archive runs stored what they were given.
    rows = dict(re.findall(r"^\s{4}(real #1|bare #1)\s+(\d+)\s", out, re.M))
    assert rows["real #1"] == rows["bare #1"] and int(rows["real #1"]) > 20
    assert re.search(r"^\s{4}40\s+[\d.]+ MB", out, re.M), out  # 2 x (2 days x 10) stored before the crawl


@pytest.mark.slow
def test_archive_benchmark_runs_end_to_end_on_a_small_archive():
    result = subprocess.run(
        [sys.executable, "-m", "bench.archive", "--articles", "200", "--scan-sample", "20", "--repeats", "1"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert re.search(r"^\s+topics test, whole archive .* index\s+[\d.]+ s\s+scan", result.stdout, re.M), result.stdout
    assert re.search(r"^\s+archive on disk: [\d.]+ MB with the index", result.stdout, re.M), result.stdout


@pytest.mark.slow
def test_archive_benchmark_times_an_import_of_the_archive():
    result = subprocess.run(
        [sys.executable, "-m", "bench.archive", "--articles", "200", "--only", "import"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    for kind in (r"200 new, 0 unchanged", r"0 new, 200 unchanged"):
        assert re.search(
            rf"^\s+articles import, 200 articles \({kind}\) into sqlite: [\d,]+ articles/s, CPU [\d.]+ ms an article",
            result.stdout,
            re.M,
        ), result.stdout

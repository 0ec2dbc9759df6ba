"""`.ci/under-load`: the command that proves the slow process tests stable beside a CPU hog."""

import subprocess
import time
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / ".ci" / "under-load"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=120)


def spinners_left() -> list[str]:
    """The hog's busy loops still running, after giving a signalled process a moment to exit."""
    deadline = time.monotonic() + 10
    while True:
        listing = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
        left = [line for line in listing.splitlines() if "def spin" in line]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def test_help_says_how_to_use_it() -> None:
    shown = run("--help")
    assert shown.returncode == 0
    assert "Usage: bash .ci/under-load [RUNS] [TEST FILE ...]" in shown.stdout


def test_runs_that_are_not_a_positive_number_are_refused_in_one_line() -> None:
    for bad in ("0", "twenty", "-3"):
        refused = run(bad)
        assert refused.returncode == 2
        assert refused.stderr.strip().splitlines() == [f"under-load: RUNS must be a positive whole number, not '{bad}'"]
        assert refused.stdout == ""


def test_a_failing_run_stops_the_loop_and_the_hog_goes_with_it(tmp_path: Path) -> None:
    failing = tmp_path / "test_fails.py"
    failing.write_text("def test_fails():\n    assert False\n")
    stopped = run("3", str(failing))
    assert stopped.returncode == 1
    assert "run 1/3: exit 1" in stopped.stdout
    assert "run 2/3" not in stopped.stdout
    assert "failed on run 1" in stopped.stderr
    assert spinners_left() == []

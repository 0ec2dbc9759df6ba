"""The extraction benchmark runs end to end on the saved fixtures (figures are printed, never asserted)."""

from __future__ import annotations

from bench import extract as bench_extract


def test_bench_runs_on_fixtures(capsys):
    assert bench_extract.main(["--fixtures", "--pages", "4"]) == 0
    out = capsys.readouterr().out
    assert "pages: 4 from test fixtures" in out
    assert "layers: {'site': 4}" in out
    assert "ratio:" in out


def test_bench_reports_each_sister_outlets_page_object_too(capsys):
    assert bench_extract.main(["--fixtures", "--pages", "4"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("pages: 4 from test fixtures")  # NDO in full first: bench.crawl reads its ratio line
    for site in ("vietnamplus", "tienphong"):
        (line,) = [line for line in out if line.startswith(f"{site}: 4 pages")]
        assert "x  layers: {'site': 4}" in line

"""`bantin demo`: the whole chain offline, ending in preview files."""

from __future__ import annotations

import pytest

from crawler.cli import main as cli_main


@pytest.mark.slow
def test_demo_crawls_the_sample_site_and_writes_previews(tmp_path, capsys):
    try:
        cli_main(["demo", "--dir", str(tmp_path), "--days", "3"])
    except SystemExit as exc:
        assert exc.code in (0, None)
    out = capsys.readouterr().out
    assert "articles stored" in out and "topic 'Quảng Ninh':" in out
    htmls = sorted((tmp_path / "previews").glob("*.html"))
    emls = sorted((tmp_path / "previews").glob("*.eml"))
    assert len(htmls) == 2 and len(emls) == 2
    assert "ban-doc@example.org" in out and "Bản tin NDO" in out
    assert all(str(path) in out for path in htmls + emls)

"""`bantin demo`: the whole chain offline, ending in preview files."""

from __future__ import annotations

import re
from email import message_from_bytes, policy

import pytest

from crawler.cli import main as cli_main


@pytest.mark.slow
def test_demo_crawls_the_sample_site_and_writes_previews(tmp_path, capsys):
    try:
        # Five days of 14: more than the 50 items of a look-alike's home feed.
        cli_main(["demo", "--dir", str(tmp_path), "--days", "5"])
    except SystemExit as exc:
        assert exc.code in (0, None)
    out = capsys.readouterr().out
    assert "articles stored" in out and "topic 'Quảng Ninh':" in out
    htmls = sorted((tmp_path / "previews").glob("*.html"))
    emls = sorted((tmp_path / "previews").glob("*.eml"))
    assert len(htmls) == 2 and len(emls) == 2
    # Four outlets followed: the product name is the press digest's, not NDO's.
    assert "ban-doc@example.org" in out and "Bản tin báo chí" in out and "Bản tin NDO" not in out
    # The first crawl of the fresh archive back-fills: every outlet stores every article its look-alike serves
    # (the everyday sources alone list VietnamPlus's and Tiền Phong's newest only).
    served = dict(re.findall(r"sample (\w+) with (\d+) articles serving", out))
    summary = re.search(r"articles stored in .* \((.*)\)", out)
    assert summary is not None
    stored = dict(re.findall(r"(\w+) (\d+)", summary.group(1)))
    assert set(served) == {"nhandan", "vietnamplus", "tienphong", "baoquangninh"}
    assert stored == served
    assert all(str(path) in out for path in htmls + emls)
    # The look-alikes republish some of each other's stories: the digests show one of them once, naming the
    # other outlets that ran it.
    carried = re.search(r"(\d+) stories carried by several outlets", out)
    assert carried is not None and int(carried.group(1)) >= 5
    vietnamese = next(path for path in htmls if "ban-doc" in path.name)
    english = next(path for path in htmls if "reader" in path.name)
    assert re.search(r"cũng đăng trên: <a href=\"http://127\.0\.0\.1:\d+/", vietnamese.read_text("utf-8"))
    assert re.search(r"also on: <a href=\"http://127\.0\.0\.1:\d+/", english.read_text("utf-8"))
    # The text part of the message (base64 in the file), as a mail client shows it.
    vietnamese_eml = message_from_bytes(
        next(path for path in emls if "ban-doc" in path.name).read_bytes(), policy=policy.default
    )
    vietnamese_text = vietnamese_eml.get_body(("plain",))
    assert vietnamese_text is not None
    assert re.search(r"cũng đăng trên: \w+.* <http://127\.0\.0\.1:\d+/", vietnamese_text.get_content())

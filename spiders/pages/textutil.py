"""Text clean-up shared by the page objects: NFC, the Ð/đ mix-up, invisible characters."""

from __future__ import annotations

import re
import unicodedata

from crawler.text import ETH_AS_D, INVISIBLE

# The house's one clean-up table (crawler.text): eth read as Đ/đ, invisible characters deleted.
# Other white space needs no entry: clean_text collapses every kind of it to one space.
_TRANSLATE = ETH_AS_D | dict.fromkeys(map(ord, INVISIBLE))


# Control characters other than white space: scraped text is untrusted, and an ESC or BEL
# in a title would reach the terminals of everyone running `bantin articles list`.
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")

# Any character _TRANSLATE changes: most text has none, and a search is far cheaper than translate.
_TRANSLATED = re.compile("[" + "".join(chr(code) for code in _TRANSLATE) + "]")


def clean_text(value: str | None) -> str:
    """NFC, Ð read as Đ, invisible characters removed, whitespace collapsed to single spaces."""
    if not value:
        return ""
    if _TRANSLATED.search(value):
        value = value.translate(_TRANSLATE)
    value = unicodedata.normalize("NFC", value)
    # Every white-space character but " " is unprintable: printable text with
    # single inner spaces is already collapsed.
    if value.isprintable() and "  " not in value and not value.startswith(" ") and not value.endswith(" "):
        return value
    return " ".join(_CONTROL.sub("", value).split())


def dedupe(values: list[str]) -> list[str]:
    """Drop empty and repeated values, keeping the first occurrence's order."""
    seen: set[str] = set()
    out: list[str] = []
    for value in values:
        key = value.casefold()
        if value and key not in seen:
            seen.add(key)
            out.append(value)
    return out

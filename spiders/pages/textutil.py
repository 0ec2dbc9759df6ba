"""Text clean-up shared by the page objects: NFC, the Ð/đ mix-up, invisible characters."""

from __future__ import annotations

import re
import unicodedata

# Ð (U+00D0, Icelandic eth) and ð are typed for Đ/đ on some Vietnamese pages; no Vietnamese text means eth.
_TRANSLATE = str.maketrans(
    {
        "\u00d0": "\u0110",
        "\u00f0": "\u0111",
        "\u00a0": " ",
        "\u202f": " ",
        "\u200b": None,
        "\u200c": None,
        "\u200d": None,
        "\u2060": None,
        "\ufeff": None,
        "\u00ad": None,
    }
)


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

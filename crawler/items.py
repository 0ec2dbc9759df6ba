"""The typed article item that page objects produce and pipelines store."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Image:
    url: str
    caption: str = ""


@dataclass(slots=True)
class ExtractedArticle:
    """One article as a site's page object extracted it from its page.

    ``site`` and ``external_id`` are the article's identity as its site gives it
    (the registered site id, and the site's own id for the article, as text).

    ``extractor`` names the layer that served the title and body: ``"site"``
    (the site's own selectors), ``"jsonld"`` (structured data / meta tags) or
    ``"generic"`` (the last-resort generic extractor). ``fallbacks`` lists the
    fields that could not be read with the site selectors; a run with many of
    them is a sign that the site changed its layout. ``layers`` names, per field
    with a value, the layer that served it (the same three names); a site whose
    page object reads structured data first (Báo Quảng Ninh) still counts only
    what fell past its own selectors as a fallback.
    """

    site: str
    external_id: str
    url: str
    title: str
    body: str
    sapo: str = ""
    author: str = ""
    published_at: datetime | None = None
    modified_at: datetime | None = None
    category: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    images: list[Image] = field(default_factory=list)
    extractor: str = "site"
    fallbacks: list[str] = field(default_factory=list)
    layers: dict[str, str] = field(default_factory=dict)

    def content_hash(self) -> str:
        """A digest of what a reader sees, so re-fetches that change nothing are not updates."""
        payload = json.dumps(
            [
                self.title,
                self.sapo,
                self.body,
                self.author,
                self.category,
                self.tags,
                [[image.url, image.caption] for image in self.images],
            ],
            ensure_ascii=False,
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def to_dict(self) -> dict:
        """Plain JSON-ready data; datetimes as ISO 8601 with offset."""
        data = asdict(self)
        for key in ("published_at", "modified_at"):
            value = getattr(self, key)
            data[key] = value.isoformat() if value else None
        return data


@dataclass(slots=True)
class CrawledArticle:
    """What the spider hands the pipelines: the article plus who found it.

    ``sources`` maps each discovery source that announced the article in this
    run to the modification time it announced (or None); ``source`` is the one
    whose announcement caused the fetch (counts are attributed to it).
    """

    article: ExtractedArticle
    source: str
    sources: dict[str, datetime | None] = field(default_factory=dict)

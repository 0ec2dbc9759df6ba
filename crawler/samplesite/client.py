"""Drive a sample site running in another process through its ``/_sample/`` admin endpoints."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from datetime import datetime

from crawler.samplesite.server import RequestRecord


class SampleSiteClient:
    """The control methods of :class:`~crawler.samplesite.server.SampleSite`, over HTTP.

    Articles come back as ground-truth dicts (``SampleArticle.expected()``).
    Admin requests are never recorded in the site's request log.
    """

    def __init__(self, base_url: str, timeout: float = 10.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        # Loopback only: never let an environment proxy see these requests.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def _call(self, method: str, path: str, payload: dict | None = None) -> dict:
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(
            f"{self.base_url}/_sample/{path}", data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")
            raise RuntimeError(f"sample site admin {method} {path}: HTTP {exc.code}: {detail}") from None

    def publish_next_day(self, count: int | None = None) -> list[dict]:
        return self._call("POST", "publish", {"count": count})["articles"]

    def edit_article(
        self,
        article_id: int,
        *,
        title: str | None = None,
        sapo: str | None = None,
        paragraphs: list[str] | None = None,
        at: datetime | None = None,
    ) -> dict:
        payload: dict = {}
        if title is not None:
            payload["title"] = title
        if sapo is not None:
            payload["sapo"] = sapo
        if paragraphs is not None:
            payload["paragraphs"] = paragraphs
        if at is not None:
            payload["at"] = at.isoformat()
        return self._call("POST", f"edit/{article_id}", payload)

    @property
    def request_log(self) -> list[RequestRecord]:
        return [RequestRecord(**row) for row in self._call("GET", "log")["requests"]]

    def clear_log(self) -> None:
        self._call("DELETE", "log")

    def inject_fault(
        self,
        path_pattern: str | re.Pattern,
        kind: str | int,
        count: int | None = None,
        *,
        seconds: float | None = None,
        retry_after: int = 1,
    ) -> dict:
        regex = isinstance(path_pattern, re.Pattern)
        return self._call(
            "POST",
            "faults",
            {
                "pattern": path_pattern.pattern if isinstance(path_pattern, re.Pattern) else path_pattern,
                "regex": regex,
                "kind": kind,
                "count": count,
                "seconds": seconds,
                "retry_after": retry_after,
            },
        )

    def faults(self) -> list[dict]:
        return self._call("GET", "faults")["faults"]

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def articles(self) -> list[dict]:
        """Ground truth of every visible article, oldest first."""
        return self._call("GET", "articles")["articles"]

    def now(self) -> datetime:
        return datetime.fromisoformat(self._call("GET", "now")["now"])

    def set_now(self, when: datetime) -> None:
        self._call("POST", "now", {"now": when.isoformat()})

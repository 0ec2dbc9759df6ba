"""Downloader middleware: retries that back off instead of hammering a struggling site."""

from __future__ import annotations

import logging
import random

from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.response import response_status_message

log = logging.getLogger("bantin.crawl")


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retry rules, plus exponential back-off with jitter and Retry-After.

    429 and 5xx mean "slow down": retrying at once (Scrapy's default) makes it worse.
    """

    def __init__(self, settings):
        super().__init__(settings)
        self.backoff_base = settings.getfloat("RETRY_BACKOFF_BASE", 1.0)
        self.backoff_max = settings.getfloat("RETRY_BACKOFF_MAX", 60.0)

    async def process_response(self, request, response, spider=None):
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        retry = self._retry(request, response_status_message(response.status))
        if retry is None:
            return response
        await self._pause(request, _retry_after(response.headers.get(b"Retry-After")))
        return retry

    async def process_exception(self, request, exception, spider=None):
        if request.meta.get("dont_retry", False) or not isinstance(exception, self.exceptions_to_retry):
            return None
        retry = self._retry(request, exception)
        if retry is None:
            return None
        await self._pause(request, None)
        return retry

    async def _pause(self, request, retry_after: float | None) -> None:
        attempt = request.meta.get("retry_times", 0) + 1
        delay = self.backoff_base * (2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
        if retry_after is not None:
            delay = max(delay, retry_after)
        delay = min(delay, self.backoff_max)
        if delay <= 0:
            return
        log.debug("retrying %s in %.1fs (attempt %d)", request.url, delay, attempt)
        from twisted.internet import reactor, task

        await maybe_deferred_to_future(task.deferLater(reactor, delay, lambda: None))


def _retry_after(value: bytes | None) -> float | None:
    if not value:
        return None
    try:
        return max(float(value.decode("latin-1").strip()), 0.0)
    except ValueError:
        # An HTTP date: not worth parsing precisely; the exponential delay applies.
        return None

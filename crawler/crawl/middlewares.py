"""Downloader middlewares: retries that back off, the site's hosts as a fence, robots.txt as RFC 9309 reads it;
and the spider middleware that marks start requests."""

from __future__ import annotations

import logging
import random
from urllib.parse import urlsplit

from scrapy.downloadermiddlewares.redirect import RedirectMiddleware
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.response import response_status_message
from twisted.internet.defer import Deferred

from crawler.crawl import events

log = logging.getLogger("bantin.crawl")


class StartRequestsMiddleware:
    """Scrapy's StartSpiderMiddleware (the ``is_start_request`` meta key its scheduler queues start
    requests by) for start requests only.

    Scrapy's own also passes everything every callback yields through one more async generator, only to
    hand it back unchanged: a layer on every response and every request and item of the crawl.
    """

    async def process_start(self, start):
        async for output in start:
            if isinstance(output, Request):
                output.meta.setdefault("is_start_request", True)
            yield output


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retry rules, plus exponential back-off with jitter and Retry-After.

    429 and 5xx mean "slow down": retrying at once (Scrapy's default) makes it worse.
    """

    def __init__(self, settings):
        super().__init__(settings)
        self.backoff_base = settings.getfloat("RETRY_BACKOFF_BASE", 1.0)
        self.backoff_max = settings.getfloat("RETRY_BACKOFF_MAX", 60.0)

    # Coroutine overrides of RetryMiddleware's plain methods: Scrapy awaits a downloader
    # middleware's coroutine methods, which the supertype's signature cannot say.
    async def process_response(self, request, response, spider=None):  # type: ignore[override]
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        retry = self._retry(request, response_status_message(response.status))
        if retry is None:
            return response
        await self._pause(request, _retry_after(response.headers.get(b"Retry-After")))
        return retry

    async def process_exception(self, request, exception, spider=None):  # type: ignore[override]
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


def _origin(parts) -> tuple[str, int | None] | None:
    """(host without ``www.``, port unless the default) of an http(s) URL, else None."""
    if parts.scheme not in ("http", "https"):
        return None
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        return None
    return host[4:] if host.startswith("www.") else host, None if port in (None, 80, 443) else port


class NoRefererRedirectMiddleware(RedirectMiddleware):
    """Scrapy's redirects, sending no Referer on them either: the crawl runs no Referer middleware (no site needs
    one), and the stock middleware looks for it when the engine starts and warns on every crawl that it is off."""

    @classmethod
    def from_crawler(cls, crawler):
        middleware = cls(crawler.settings)
        middleware.crawler = crawler
        return middleware

    def handle_referer(self, request, response) -> None:
        request.headers.pop("Referer", None)


class SiteHostsMiddleware:
    """No request leaves the crawled site's hosts, whatever asked for it (in place of Scrapy's OffsiteMiddleware).

    Scrapy's filter lets through every request with ``dont_filter=True`` (the spider's article
    requests) and every redirect of one, and drops the others when they are scheduled without
    calling their errback, so the ledger never learns that a source went missing. This one runs
    on every request the downloader is about to send, redirects included, and refuses with
    IgnoreRequest, which reaches the request's errback with the reason.
    """

    def __init__(self, site_url: str, crawler=None):
        self.origins = {_origin(urlsplit(site_url))}
        self.crawler = crawler
        self._api_checked = False

    @classmethod
    def from_crawler(cls, crawler):
        # The site's own address unless the configuration moved it (a mirror, the sample site).
        return cls(crawler.settings.get("BANTIN_SITE_URL") or crawler.spider.site.base_url, crawler)

    def process_request(self, request, spider=None):
        if not self._api_checked:
            # A site whose "load more" API has its own origin (api.<site>): the spider knows it once
            # configured, which is before its first request.
            api_base = getattr(getattr(self.crawler, "spider", None), "api_base", None)
            if api_base:
                self.origins.add(_origin(urlsplit(api_base)))
                self._api_checked = True
        if _origin(urlparse_cached(request)) not in self.origins:
            raise IgnoreRequest(f"refused: off the site's hosts ({request.url[:200]})")
        return None


# RFC 9309 §2.3.1.4: a robots.txt that cannot be reached means "assume complete disallow".
_DISALLOW_ALL = b"User-agent: *\nDisallow: /\n"


class RobotsPolicyMiddleware(RobotsTxtMiddleware):
    """Scrapy's RobotsTxtMiddleware, with RFC 9309's rules where Scrapy's differ.

    - Every request that waited on the robots.txt download is checked: Scrapy resolves one
      Deferred for all of them, and only the first waiter receives the parser (the others get
      the first one's callback result, None, which Scrapy reads as "allowed").
    - 4xx: no rules, everything allowed. 5xx (after retries) or no answer: everything refused.
    - A refusal is signalled (``events.robots_refused``) so the ledger can say the run was refused.
    """

    def __init__(self, crawler):
        super().__init__(crawler)
        # netloc -> why its robots.txt refuses everything (unreachable), for the refusal's reason
        self._refuse_all: dict[str, str] = {}

    async def robot_parser(self, request):
        parser = await super().robot_parser(request)
        # _parse_robots/_robots_error store the parser before resolving the shared Deferred.
        stored = self._parsers.get(urlparse_cached(request).netloc)
        return stored if stored is not None and not isinstance(stored, Deferred) else parser

    async def _parse_robots(self, response, netloc, request):
        if response.status >= 500:
            self._disallow_all(netloc, f"its robots.txt answered HTTP {response.status}")
            return
        if response.status >= 400:
            response = response.replace(body=b"")  # no robots.txt: no rules
        await super()._parse_robots(response, netloc, request)

    def _robots_error(self, exc, netloc):
        reason = str(exc).strip() or type(exc).__name__
        self._disallow_all(netloc, f"its robots.txt did not answer: {reason[:200]}")

    def _disallow_all(self, netloc: str, why: str) -> None:
        log.warning("%s: %s; RFC 9309 says to assume complete disallow", netloc, why)
        self._refuse_all[netloc] = why
        waiting = self._parsers.get(netloc)
        parser = build_from_crawler(self._parserimpl, self.crawler, _DISALLOW_ALL)
        self._parsers[netloc] = parser
        if isinstance(waiting, Deferred):
            waiting.callback(parser)

    def process_request_2(self, rp, request):
        try:
            super().process_request_2(rp, request)
        except IgnoreRequest:
            netloc = urlparse_cached(request).netloc
            why = self._refuse_all.get(netloc) or "disallowed"
            reason = f"refused by robots.txt ({why})"
            self.crawler.signals.send_catch_log(signal=events.robots_refused, url=request.url, reason=reason)
            raise IgnoreRequest(reason) from None

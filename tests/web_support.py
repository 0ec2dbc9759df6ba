"""Builders for the web app's tests: a config with the web secrets, the app on a database, a logged-in client."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from starlette.testclient import TestClient

from crawler.config import Config
from crawler.store import Database
from crawler.web import WebApp, create_app
from crawler.web.security import WebSettings, hash_password
from spiders.registry import everyday_sources
from tests.digest_support import NOW, PUBLIC_URL, SECRET_ENV, Archive, config_text, make_config

ADMIN_PASSWORD = "correct horse battery staple"
ADMIN_HASH_ENV = "BANTIN_TEST_WEB_ADMIN_HASH"
os.environ.setdefault(ADMIN_HASH_ENV, hash_password(ADMIN_PASSWORD))
WEB = f'[web]\npublic_url = "{PUBLIC_URL}"\nsecret_env = "{SECRET_ENV}"\nadmin_password_env = "{ADMIN_HASH_ENV}"\n'
OUTLETS = {"nhandan": "Báo Nhân Dân", "vietnamplus": "VietnamPlus", "tienphong": "Tiền Phong"}
# What a browser sends with a form posted from one of the app's own pages.
SAME_ORIGIN = {"origin": PUBLIC_URL, "sec-fetch-site": "same-origin"}


@dataclass
class Clocks:
    """The app's clocks, moved by hand: no test sleeps."""

    now: datetime = NOW
    seconds: float = 1_000_000.0

    def utc(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return self.seconds

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self.seconds += seconds


@dataclass
class Site:
    config: Config
    database: Database
    web: WebApp
    client: TestClient
    clocks: Clocks = field(default_factory=Clocks)
    # The archive a test adds articles to, set by the fixtures that build one (unset otherwise).
    archive: Archive = field(init=False, repr=False, compare=False)

    def login(self, password: str = ADMIN_PASSWORD, next_path: str = "/admin"):
        page = self.client.get("/login")
        return self.client.post(
            "/login",
            data={"csrf": form_token(page.text), "password": password, "next": next_path},
            headers=SAME_ORIGIN,
            follow_redirects=False,
        )


def web_config(database_url: str, *, web: str = WEB, extra: str = "", port: int = 25) -> Config:
    return make_config(database_url, port, web=web, extra=extra)


def web_config_text(database_url: str, *, web: str = WEB, extra: str = "", port: int = 25) -> str:
    return config_text(database_url, port, web=web, extra=extra)


def make_site(database: Database, config: Config | None = None, *, clocks: Clocks | None = None) -> Site:
    config = config or web_config(database.url)
    clocks = clocks or Clocks()
    web = WebApp(
        config=config,
        database=database,
        settings=WebSettings.from_config(config),
        outlets=OUTLETS,
        everyday_sources=everyday_sources,
        clock=clocks.utc,
        monotonic=clocks.monotonic,
    )
    client = TestClient(create_app(web), base_url=PUBLIC_URL)
    return Site(config, database, web, client, clocks)


def form_token(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no form token on the page"
    return found.group(1)


def smtp_sink():
    """An SMTP server on loopback recording what it accepts: (sink, stop)."""
    from aiosmtpd.controller import Controller

    from tests.digest_support import Sink, free_port

    handler = Sink()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    handler.port = port
    return handler, controller.stop

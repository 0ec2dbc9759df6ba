"""A sample site on loopback plus a config pointing at it, for crawls run as real child processes."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from crawler.crawl.run import crawl_child_command
from crawler.samplesite import topics_toml
from crawler.samplesite.model import generate_site
from crawler.samplesite.server import SampleSite
from crawler.store import Database
from crawler.store.models import ArticleRow, ArticleSource, CrawlRun


@dataclass
class CrawlEnv:
    site: SampleSite
    config_path: Path
    database_url: str

    def command(self, *args: str) -> list[str]:
        return crawl_child_command(
            self.config_path, "--fast", "--no-progress", "--now", self.site.model.now.isoformat(), *args
        )

    def crawl(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(self.command(*args), capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"crawl exited {result.returncode}\n{result.stdout}\n{result.stderr}")
        return result

    def start_crawl(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(self.command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def database(self) -> Database:
        return Database(self.database_url)

    def articles(self) -> dict[int, ArticleRow]:
        """The stored articles by the sample site's own (numeric) post id."""
        db = self.database()
        try:
            with db.session() as session:
                return {int(row.external_id): row for row in session.scalars(select(ArticleRow))}
        finally:
            db.dispose()

    def sources(self) -> dict[int, set[str]]:
        db = self.database()
        try:
            with db.session() as session:
                found: dict[int, set[str]] = {}
                post_ids = dict(session.execute(select(ArticleRow.id, ArticleRow.external_id)).all())
                for row in session.scalars(select(ArticleSource)):
                    found.setdefault(int(post_ids[row.article_id]), set()).add(row.source)
                return found
        finally:
            db.dispose()

    def runs(self) -> list[CrawlRun]:
        db = self.database()
        try:
            with db.session() as session:
                return list(session.scalars(select(CrawlRun).order_by(CrawlRun.id)))
        finally:
            db.dispose()

    def article_requests(self) -> list[str]:
        return [r.path for r in self.site.request_log if "-post" in r.path]


def make_env(
    tmp_path: Path,
    database_url: str,
    *,
    days: int = 3,
    per_day: int = 12,
    drifted: int = 0,
    lookback_days: int = 7,
    extra: str = "",
    seed: int = 0,
    timeout_seconds: float = 5,
) -> CrawlEnv:
    site = SampleSite(generate_site(seed=seed, days=days, per_day=per_day, drifted=drifted))
    base_url = site.start()
    config_path = tmp_path / "bantin.toml"
    config_path.write_text(
        f"""
[site]
base_url = "{base_url}"
[storage]
database_url = "{database_url}"
[crawl]
lookback_days = {lookback_days}
download_delay = 0
timeout_seconds = {timeout_seconds}
retries = 2
{extra}
{topics_toml()}
""",
        encoding="utf-8",
    )
    return CrawlEnv(site, config_path, database_url)

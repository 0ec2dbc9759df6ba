"""Shared builders for the digest, mailer and render tests: a database with hand-made matches, an SMTP sink."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

from crawler.config import parse_config
from crawler.matching import TopicSpec
from crawler.store import Database
from crawler.store.models import ArticleRow, CrawlRun, Match, Topic

NOW = datetime(2025, 3, 27, 0, 0, tzinfo=UTC)  # 07:00 in Hà Nội
PUBLIC_URL = "https://bantin.example.org"
SECRET_ENV = "BANTIN_TEST_WEB_SECRET"
SECRET = b"test-signing-key-0123456789abcdefghijklmnop"
# The configs below sign reader links with this; CLI children inherit it.
os.environ.setdefault(SECRET_ENV, SECRET.decode())
DEFAULT_WEB = f'[web]\npublic_url = "{PUBLIC_URL}"\nsecret_env = "{SECRET_ENV}"'
CNHT = "Công nghiệp hỗ trợ"
QN = "Quảng Ninh"


def free_port() -> int:
    # aiosmtpd's Controller cannot use port 0 (it connects back to the configured port).
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


TOPIC_QUERIES = {CNHT: '"công nghiệp hỗ trợ" OR CNHT', QN: '"Quảng Ninh"'}


def make_config(
    db_url: str, port: int = 25, *, extra: str = "", digest: str = "", smtp: str = "", web: str | None = None
):
    return parse_config(config_text(db_url, port, extra=extra, digest=digest, smtp=smtp, web=web))


def config_text(
    db_url: str, port: int = 25, *, extra: str = "", digest: str = "", smtp: str = "", web: str | None = None
) -> str:
    """`web`: the whole [web] section (None: DEFAULT_WEB, signed links; "": none)."""
    return f'''
[storage]
database_url = "{db_url}"
[smtp]
host = "127.0.0.1"
port = {port}
security = "none"
sender = "Bản tin NDO <bantin@example.org>"
max_attempts = 2
retry_backoff_seconds = 0.0
timeout_seconds = 5.0
{smtp}
[digest]
unsubscribe_mailto = "unsubscribe@example.org"
{digest}
{DEFAULT_WEB if web is None else web}
[[topics]]
name = "{CNHT}"
query = '"công nghiệp hỗ trợ" OR CNHT'
[[topics]]
name = "{QN}"
query = '"Quảng Ninh"'
[[recipients]]
email = "an@example.org"
name = "Nguyễn Văn Ân"
[[recipients]]
email = "binh@example.org"
name = "Trần Thị Bình"
topics = ["{QN}"]
language = "en"
{extra}
'''


def hit(term: str, field: str, snippet: str, *, negated: bool = False) -> dict:
    start = snippet.lower().find(term.lower())
    return {
        "term": term,
        "field": field,
        "index": 0,
        "start": start,
        "end": start + len(term),
        "snippet": snippet,
        "highlight": [start, start + len(term)],
        "negated": negated,
    }


@dataclass
class Archive:
    database: Database
    next_id: int = 1000
    topics_seen: set = field(default_factory=set)

    def topic(self, name: str) -> None:
        if name in self.topics_seen:
            return
        # Recorded as the crawl would leave it: matched with the configured query's version,
        # so the digest does not re-match these hand-made matches away.
        query = TOPIC_QUERIES.get(name, name)
        version = TopicSpec(name, query).version
        with self.database.session() as session:
            session.add(
                Topic(name=name, query=query, accents="auto", version=version, matched_version=version, updated_at=NOW)
            )
        self.topics_seen.add(name)

    def article(
        self,
        title: str,
        *,
        topics: dict[str, list[dict]],
        published: datetime | None = None,
        url: str | None = None,
        sapo: str = "Sapo của bài.",
        author: str = "Minh Hà",
        category: list[str] | None = None,
    ) -> int:
        self.next_id += 1
        article_id = self.next_id
        published = published or NOW - timedelta(hours=article_id % 20)
        for name in topics:
            self.topic(name)
        with self.database.session() as session:
            session.add(
                ArticleRow(
                    id=article_id,
                    site="nhandan",
                    external_id=str(article_id),
                    url=url or f"https://nhandan.vn/bai-{article_id}-post{article_id}.html",
                    title=title,
                    sapo=sapo,
                    body="Nội dung.",
                    author=author,
                    category=category or ["Kinh tế", "Doanh nghiệp"],
                    tags=[],
                    images=[],
                    published_at=published,
                    modified_at=None,
                    first_seen_at=published,
                    fetched_at=published,
                    changed_at=published,
                    version=1,
                    content_hash="x" * 64,
                )
            )
            session.flush()
            for name, hits in topics.items():
                session.add(
                    Match(
                        article_id=article_id,
                        topic=name,
                        topic_version="v1",
                        article_version=1,
                        hits=hits,
                        matched_at=published,
                    )
                )
        return article_id

    def update_article(self, article_id: int, title: str) -> None:
        with self.database.session() as session:
            article = session.get(ArticleRow, article_id)
            assert article is not None
            article.title = title
            article.version += 1
            for match in session.query(Match).filter_by(article_id=article_id):
                match.article_version = article.version

    def crawl(self, *, started: datetime, status: str = "ok", counts: dict | None = None) -> None:
        with self.database.session() as session:
            session.add(
                CrawlRun(
                    site="nhandan",
                    started_at=started,
                    finished_at=started + timedelta(minutes=3),
                    status=status,
                    counts=counts
                    or {
                        "rss": {"discovered": 40, "fetched": 12, "new": 10, "updated": 2, "failed": 1},
                        "sitemap": {"discovered": 50, "fetched": 3, "new": 3, "updated": 0, "failed": 0},
                    },
                )
            )


def standard_archive(database: Database) -> Archive:
    """Three CNHT articles (one also Quảng Ninh), two Quảng Ninh, a hostile title, a javascript: link."""
    archive = Archive(database)
    archive.crawl(started=NOW - timedelta(hours=1))
    archive.article(
        "Phát triển công nghiệp hỗ trợ ở Bắc Ninh",
        topics={
            CNHT: [
                hit("công nghiệp hỗ trợ", "title", "Phát triển công nghiệp hỗ trợ ở Bắc Ninh"),
                hit("công nghiệp hỗ trợ", "body", "Doanh nghiệp công nghiệp hỗ trợ cần vốn & đất <sạch>."),
            ]
        },
        published=NOW - timedelta(hours=2),
    )
    archive.article(
        "Quảng Ninh thu hút CNHT",
        topics={
            CNHT: [hit("CNHT", "title", "Quảng Ninh thu hút CNHT")],
            QN: [hit("Quảng Ninh", "sapo", "Tỉnh Quảng Ninh công bố 12 dự án mới.")],
        },
        published=NOW - timedelta(hours=3),
    )
    archive.article(
        "<script>alert('x')</script> Hạ Long đón khách",
        topics={QN: [hit("Quảng Ninh", "body", "Thành phố Hạ Long, Quảng Ninh đón 1 triệu khách.")]},
        published=NOW - timedelta(hours=1),
        url="javascript:alert(1)",
    )
    return archive


class Sink:
    """An aiosmtpd handler that records messages and can refuse on demand."""

    port: int  # its SMTP server's, set by whoever starts that server

    def __init__(self):
        self.messages: list[bytes] = []
        # consumed one per DATA; "" = accept, "drop" = hang up, "delay:S" = accept after S seconds
        self.replies: list[str] = []
        # (envelope recipients, Message-ID) of every message received in full, whatever the reply
        self.received: list[tuple[list[str], str]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        with self.lock:
            reply = self.replies.pop(0) if self.replies else ""
            message = message_from_bytes(raw, policy=policy.default)
            self.received.append((list(envelope.rcpt_tos), str(message["Message-ID"])))
        if reply == "drop":
            server.transport.close()
            return "421 closing"
        if reply.startswith("delay:"):
            await asyncio.sleep(float(reply.removeprefix("delay:")))
            reply = ""
        if reply:
            return reply
        with self.lock:
            self.messages.append(raw)
        return "250 OK queued"

    def received_by(self, address: str) -> list[str]:
        """Message-IDs of what reached the server for this envelope recipient (accepted or not)."""
        with self.lock:
            return [msg_id for rcpts, msg_id in self.received if address in rcpts]

    def parsed(self):
        return [message_from_bytes(raw, policy=policy.default) for raw in self.messages]


@contextlib.contextmanager
def running_sink():
    """A Sink behind a real SMTP server on 127.0.0.1 (its port as ``.port``), while the block runs."""
    from aiosmtpd.controller import Controller

    handler = Sink()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    handler.port = port
    try:
        yield handler
    finally:
        controller.stop()


def standard_setup(tmp_path):
    """A fresh SQLite archive with the standard articles and a config for it: (config, database, archive)."""
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    database = Database(url)
    return make_config(url), database, standard_archive(database)

"""The cluster's build jobs in-process, on both databases: whom they write rows for, and how many writes."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from sqlalchemy import event, select, text

from crawler.readers import digest_recipients, save_preferences, unsubscribe
from crawler.store.models import ArticleRow, Delivery, OutboxMessage
from reports import digest as digest_module
from reports import fanout
from reports.delivery import _compose, _outbox_values
from reports.digest import SharedLookups, previous_digests_at, recipient_key
from reports.mailer import ReaderLinks
from tests.digest_support import CNHT, NOW, QN, make_config, running_sink, standard_archive

LATER = NOW + timedelta(hours=1)


def outbox_rows(database) -> dict[str, OutboxMessage]:
    with database.session() as session:
        return {row.recipient: row for row in session.scalars(select(OutboxMessage))}


def test_build_jobs_honour_what_readers_chose(database):
    readers = "".join(f'[[recipients]]\nemail = "{name}@example.org"\n' for name in ("chi", "dung", "giang"))
    config = make_config(database.url, extra=readers)
    standard_archive(database)
    with database.session() as session:
        save_preferences(
            session, config, "chi@example.org", topics=[CNHT, QN], paused=True, subscribed=True, now=NOW, via="web"
        )
        unsubscribe(session, "dung@example.org", now=NOW, via="web")
        save_preferences(
            session, config, "giang@example.org", topics=[QN], paused=False, subscribed=True, now=NOW, via="web"
        )
    fanout.prepare_fanout(config, database, now=LATER)
    result = fanout.build_shard(config, database, now=LATER, shard=0, shards=1)
    rows = outbox_rows(database)
    # A paused and an unsubscribed reader get nothing, as from `bantin digest --send`.
    assert set(rows) == {"an@example.org", "binh@example.org", "giang@example.org"}
    assert (result.queued, result.already, result.failed) == (3, 0, [])
    # The topics a reader picked are theirs: Quảng Ninh only.
    assert CNHT not in rows["giang@example.org"].subject and QN in rows["giang@example.org"].subject
    assert CNHT in rows["an@example.org"].subject


def test_a_build_job_writes_its_rows_in_a_few_statements_and_adds_nothing_when_run_again(database):
    count = 2 * fanout.BUILD_CHUNK + 7
    readers = "".join(f'[[recipients]]\nemail = "reader{index:03d}@example.org"\n' for index in range(count))
    config = make_config(database.url, extra=readers)
    standard_archive(database)
    fanout.prepare_fanout(config, database, now=LATER)
    inserts: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO OUTBOX"):
            inserts.append(statement)

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        first = fanout.build_shard(config, database, now=LATER, shard=0, shards=1)
        again = fanout.build_shard(config, database, now=LATER, shard=0, shards=1)
    finally:
        event.remove(database.engine, "before_cursor_execute", record)
    readers_total = count + 2
    assert (first.queued, first.already) == (readers_total, 0)
    assert (again.queued, again.already) == (0, readers_total)
    assert len(outbox_rows(database)) == readers_total
    # One INSERT per chunk of readers, not one per reader; the run again writes nothing.
    assert len(inserts) == -(-readers_total // fanout.BUILD_CHUNK)
    if database.dialect == "postgresql":
        # Stored lz4-compressed where the server has it: compressing them with pglz was a quarter of a build.
        with database.session() as session:
            offered = session.scalar(fanout.LZ4_OFFERED)
            methods = set(session.scalars(text("SELECT pg_column_compression(raw_message) FROM outbox")))
        assert (methods == {"lz4"}) if offered else ("lz4" not in methods)


def test_a_sender_does_not_send_to_a_reader_who_paused_after_the_build(database):
    with running_sink() as sink:
        config = make_config(database.url, sink.port)
        standard_archive(database)
        fanout.prepare_fanout(config, database, now=LATER)
        assert fanout.build_shard(config, database, now=LATER, shard=0, shards=1).queued == 2
        with database.session() as session:
            save_preferences(
                session, config, "binh@example.org", topics=[QN], paused=True, subscribed=True, now=LATER, via="web"
            )
        result = fanout.send_claimed(
            config, database, worker="w", clock=lambda: LATER, ttl=timedelta(minutes=2), batch_size=10
        )
    assert sorted((item.email, item.status) for item in result.results) == [
        ("an@example.org", "sent"),
        ("binh@example.org", "cancelled"),
    ]
    assert [rcpts for rcpts, _msg_id in sink.received] == [["an@example.org"]]
    assert outbox_rows(database)["binh@example.org"].last_error == "not sent: the reader paused"


def test_a_sender_spends_a_few_statements_per_message(database):
    with running_sink() as sink:
        config = make_config(database.url, sink.port)
        standard_archive(database)
        fanout.prepare_fanout(config, database, now=LATER)
        fanout.build_shard(config, database, now=LATER, shard=0, shards=1)
        with database.session() as session:
            articles = [len(row.items) for row in session.scalars(select(OutboxMessage))]
        statements: list[str] = []

        def record(_conn, _cursor, statement, *_args) -> None:
            statements.append(" ".join(statement.split()))

        event.listen(database.engine, "before_cursor_execute", record)
        try:
            result = fanout.send_claimed(
                config, database, worker="w", clock=lambda: LATER, ttl=timedelta(minutes=2), batch_size=10
            )
        finally:
            event.remove(database.engine, "before_cursor_execute", record)
    assert [item.status for item in result.results] == ["sent", "sent"] and min(articles) >= 2
    selects = [statement for statement in statements if statement.upper().startswith("SELECT")]
    # The readers' earlier deliveries are one look-up for the messages marked sent together, not one per article
    # nor one per message...
    assert len([statement for statement in selects if "deliveries" in statement]) == 1
    # ... their deliveries are written in one statement...
    assert len([statement for statement in statements if statement.startswith("INSERT INTO deliveries")]) == 1
    # ... marking a message sent does not read its whole row (raw message included) back...
    assert not [statement for statement in selects if "FROM outbox WHERE outbox.id = " in statement]
    # ... and the claimed batch's messages are read in one query, not one per row.
    assert len([statement for statement in selects if "FROM outbox WHERE outbox.id IN" in statement]) == 1


def test_a_build_shares_lookups_between_readers_yet_composes_each_as_alone(database):
    """Readers share coverage and matches where theirs are the same; each message is still exactly their own."""
    readers = f'[[recipients]]\nemail = "chi@example.org"\nname = "Lê Chi"\ntopics = ["{CNHT}"]\n'
    readers += '[[recipients]]\nemail = "dung@example.org"\n'
    # Giang (Quảng Ninh, no digest yet) is owed items that Ân and Dũng are owed too: rendered once for all three.
    readers += f'[[recipients]]\nemail = "giang@example.org"\ntopics = ["{QN}"]\n'
    config = make_config(database.url, extra=readers)
    archive = standard_archive(database)
    archive.crawl(started=NOW - timedelta(minutes=10), counts={"rss": {"discovered": 5, "new": 4, "updated": 1}})
    # A copy of the first Công nghiệp hỗ trợ story on another outlet: Chi's message links it, Ân's (Quảng Ninh) not.
    copy = archive.article("Bản sao", topics={})
    with database.session() as session:
        story = session.get_one(ArticleRow, 1001).story_id
        session.get_one(ArticleRow, copy).site, session.get_one(ArticleRow, copy).story_id = "vietnamplus", story
    previous = NOW - timedelta(minutes=30)
    with database.session() as session:
        # Ân, composed first, follows Quảng Ninh only: matches shared by anything less than the topic set would
        # give Chi (after him) his.
        save_preferences(
            session, config, "an@example.org", topics=[QN], paused=False, subscribed=True, now=NOW, via="web"
        )
        # Ân and Chi got a digest at the same time (Dũng and Bình never did): the same coverage window.
        # Ân also has an older digest, Chi a newer one that failed: neither is the previous digest.
        earlier = [("an@example.org", "sent", previous - timedelta(days=1)), ("chi@example.org", "failed", NOW)]
        for email, status, built in [
            ("an@example.org", "sent", previous),
            ("chi@example.org", "sent", previous),
        ] + earlier:
            session.add(
                OutboxMessage(
                    digest_key=f"{built.date().isoformat()}-{status}",
                    digest_date=previous.date() - timedelta(days=2),
                    recipient=email,
                    message_id=f"<previous-{status}-{built.timestamp()}-{email}>",
                    subject="earlier",
                    raw_message=b"earlier",
                    items=[],
                    status=status,
                    created_at=built,
                    updated_at=built,
                    sent_at=built if status == "sent" else None,
                    kind="digest",
                )
            )
        # Dũng's digest earlier today failed: his next one is the day's second.
        session.add(
            OutboxMessage(
                digest_key="2025-03-27",
                digest_date=LATER.astimezone(config.schedule.tz).date(),
                recipient="dung@example.org",
                message_id="<failed-today-dung@example.org>",
                subject="failed",
                raw_message=b"failed",
                items=[],
                status="failed",
                created_at=NOW,
                updated_at=NOW,
                kind="digest",
            )
        )
        # What each one holds, read for the whole chunk at once and still each reader's own: Ân has had the Hạ Long
        # article, Chi has the CNHT one in Quảng Ninh waiting in an unsent row, Dũng has had the copy of the first
        # story from another outlet (so not the story again).
        session.flush()
        an_sent = session.scalars(
            select(OutboxMessage.id).where(OutboxMessage.recipient == "an@example.org", OutboxMessage.status == "sent")
        ).first()
        session.add(
            OutboxMessage(
                digest_key="waiting",
                digest_date=previous.date() - timedelta(days=2),
                recipient="chi@example.org",
                message_id="<waiting-chi@example.org>",
                subject="waiting",
                raw_message=b"waiting",
                items=[[1002, 1]],
                status="pending",
                created_at=previous,
                updated_at=previous,
                kind="digest",
            )
        )
        for email, article in [("an@example.org", 1003), ("dung@example.org", copy)]:
            session.add(
                Delivery(
                    recipient=email, article_id=article, article_version=1, outbox_id=an_sent, delivered_at=previous
                )
            )
    with database.session(write=False) as session:
        everyone = ["An@example.org", "chi@example.org", "binh@example.org", "dung@example.org"]
        assert previous_digests_at(session, everyone) == {"an@example.org": previous, "chi@example.org": previous}
    fanout.prepare_fanout(config, database, now=LATER)
    links = ReaderLinks.from_config(config)
    alone: dict[str, dict] = {}
    lines: dict[str, str] = {}
    shared = SharedLookups()
    shown = 0
    with database.session(write=False) as session:
        for recipient in digest_recipients(config, session):
            composed = _compose(session, config, recipient, LATER, links)
            alone[recipient_key(recipient.email)] = _outbox_values(composed, recipient, LATER)
            lines[recipient_key(recipient.email)] = composed.digest.coverage.line
            shown += sum(len(group.items) for group in composed.digest.groups)
            _compose(session, config, recipient, LATER, links, shared)
        session.rollback()
    # Each item shown is rendered in HTML and in text, once per content: Giang's two items were Ân's and Dũng's.
    assert len(shared.fragments) == 2 * (shown - 2)
    # Ân and Chi (same language, same previous digest) share one coverage; Dũng (no previous digest) and Bình
    # (English) do not. Ân and Bình (Quảng Ninh) share their matches; Chi and Dũng have their own topics.
    assert (len(shared.coverages), len(shared.matches)) == (3, 3)
    assert lines["an@example.org"] == lines["chi@example.org"] != lines["dung@example.org"]

    result = fanout.build_shard(config, database, now=LATER, shard=0, shards=1)

    assert (result.queued, result.failed) == (5, [])
    with database.session() as session:
        rows = {
            row.recipient: row
            for row in session.scalars(select(OutboxMessage).where(OutboxMessage.created_at == LATER))
        }
    assert set(rows) == set(alone)
    assert rows["dung@example.org"].digest_key == "2025-03-27-2" and rows["an@example.org"].digest_key == "2025-03-27"
    for key, expected in alone.items():
        row = rows[key]
        fields = {name: getattr(row, name) for name in ("digest_key", "message_id", "subject")}
        assert fields == {name: expected[name] for name in fields}, key
        assert _without_boundaries(row.raw_message) == _without_boundaries(expected["raw_message"]), key
        assert [list(pair) for pair in row.items] == expected["items"], key
    held = {key: {article for article, _version in row.items} for key, row in rows.items()}
    assert held == {
        "an@example.org": {1002},
        "chi@example.org": {1001},
        "dung@example.org": {1002, 1003},
        "binh@example.org": {1002, 1003},
        "giang@example.org": {1002, 1003},
    }
    # Their own topics and links, not a neighbour's.
    assert QN not in rows["chi@example.org"].subject and CNHT not in rows["an@example.org"].subject
    assert CNHT in rows["chi@example.org"].subject and QN in rows["an@example.org"].subject
    assert b"/bai-1001-" in _html_of(rows["chi@example.org"]) and b"/bai-1001-" not in _html_of(rows["an@example.org"])
    assert _html_of(rows["chi@example.org"]).count(b"/bai-%d-" % copy) == 1


def test_a_build_job_cuts_its_chunks_from_readers_grouped_by_digest(database, monkeypatch):
    """Readers share a composed digest only within a chunk: readers of two digests interleaved by address are
    built in chunks of one digest each (but where a digest's readers run across a cut), not of both."""
    readers = "".join(
        f'[[recipients]]\nemail = "reader{index:03d}@example.org"\n'
        + (f'topics = ["{CNHT}"]\n' if index % 2 else f'topics = ["{QN}"]\nlanguage = "en"\n')
        for index in range(2 * fanout.BUILD_CHUNK)
    )
    config = make_config(database.url, extra=readers)
    standard_archive(database)
    fanout.prepare_fanout(config, database, now=LATER)
    composed: list[tuple] = []
    compose = digest_module._digest

    def counted(*args, **kwargs):
        composed.append(args[-1])
        return compose(*args, **kwargs)

    monkeypatch.setattr(digest_module, "_digest", counted)
    result = fanout.build_shard(config, database, now=LATER, shard=0, shards=1)
    readers_total = 2 * fanout.BUILD_CHUNK + 2
    assert (result.queued, result.failed) == (readers_total, [])
    # Ân (every topic), Bình and the English readers (Quảng Ninh), the Vietnamese ones (CNHT): three digests in
    # three chunks, each composed once per chunk it reaches; interleaved, the first two chunks composed all of theirs.
    digests = {key[1:3] for key in composed}
    chunks = -(-readers_total // fanout.BUILD_CHUNK)
    assert len(digests) == 3
    assert len(composed) <= len(digests) + chunks - 1


def test_readers_owed_the_same_share_one_digest_and_one_rendering_per_name_and_links(database):
    """Readers of the same topics who hold the same (here nothing) are composed once, and rendered once per name
    and links; each message is still byte for byte the one composed alone."""
    readers = '[[recipients]]\nemail = "hai@example.org"\n[[recipients]]\nemail = "ba@example.org"\n'
    readers += '[[recipients]]\nemail = "tu@example.org"\nname = "Tư & <Tứ>"\n'
    # Without [web] every reader's links are the one mailto.
    config = make_config(database.url, extra=readers, web="")
    standard_archive(database)
    fanout.prepare_fanout(config, database, now=LATER)
    shared = SharedLookups()
    alone, together = _composed_alone_and_together(database, config, shared)
    # Ân, Hai, Ba and Tư (every topic, Vietnamese, nothing held) share one digest, Bình (English, Quảng Ninh) has
    # his; Hai and Ba (no name) share a page, Ân and Tư (named) another, their own names put in it.
    assert len(shared.digests) == 2
    assert len(shared.renderings) == 3
    assert set(together) == {f"{name}@example.org" for name in ("an", "binh", "hai", "ba", "tu")}
    for key, raw in together.items():
        assert _without_boundaries(raw) == _without_boundaries(alone[key]), key
    assert "Tư &amp; &lt;Tứ&gt;" in _html_of_raw(together["tu@example.org"]).decode("utf-8")
    assert b"To: hai@example.org" in together["hai@example.org"]


@pytest.mark.parametrize("max_html_kb", [75, 10])
def test_readers_with_their_own_names_and_signed_links_share_one_page(database, max_html_kb):
    """Named readers with signed links, on one digest, are rendered on one page their own name and links are put
    in: each message is byte for byte the one rendered alone, whatever their names hold (and however the size
    budget shrinks the page for the longer ones)."""
    names = ["Nguyễn Văn An", "Tư & <Tứ>", "Chị \"Hoa\" 'Lan'", "R&amp;D", "A" * 9000, "Lê\\Thị {name} Bình"]
    names.append("Trần\u00a0Nam")  # the parser's own: rendered with the page, as it was
    readers = "".join(
        f'[[recipients]]\nemail = "r{index}@example.org"\nname = {json.dumps(name, ensure_ascii=False)}\n'
        for index, name in enumerate(names)
    )
    readers += '[[recipients]]\nemail = "plain@example.org"\n'
    config = make_config(database.url, extra=readers, digest=f"max_html_kb = {max_html_kb}")
    standard_archive(database)
    fanout.prepare_fanout(config, database, now=LATER)
    shared = SharedLookups()
    alone, together = _composed_alone_and_together(database, config, shared)
    assert {f"r{index}@example.org" for index in range(len(names))} <= set(together)
    # One page per digest for its named readers (two digests), one for the unnamed, and the no-break space's own.
    assert len(shared.renderings) == 4
    for key, raw in together.items():
        assert _without_boundaries(raw) == _without_boundaries(alone[key]), key
    html = _html_of_raw(together["r1@example.org"]).decode("utf-8")
    assert "Tư &amp; &lt;Tứ&gt;" in html and "/u/" in html
    assert _html_of_raw(together["r1@example.org"]) != _html_of_raw(together["r0@example.org"])


def _without_boundaries(raw: bytes) -> bytes:
    """The message's bytes but its MIME boundaries, which the email package draws at random for each message."""
    boundaries = set(re.findall(rb'boundary="([^"]+)"', raw))
    assert boundaries
    for boundary in boundaries:
        raw = raw.replace(boundary, b"BOUNDARY")
    return raw


def _html_of(row: OutboxMessage) -> bytes:
    return _html_of_raw(row.raw_message)


def _html_of_raw(raw: bytes) -> bytes:
    html = message_from_bytes(raw, policy=policy.default).get_body(("html",))
    assert html is not None
    return html.get_content().encode("utf-8")


def test_rows_marked_sent_together_record_what_each_would_alone(database):
    """Two messages to one reader marked in one transaction: the later's versions win, as marked one by one."""
    from reports.delivery import _mark_sent

    standard_archive(database)
    with database.session() as session:
        first, second, third = session.scalars(select(ArticleRow.id).order_by(ArticleRow.id).limit(3)).all()
        ids = []
        for key, items, reader in (
            ("2025-03-27", [[first, 1], [second, 1]], "an@example.org"),
            ("2025-03-27-2", [[first, 2], [third, 1]], "an@example.org"),
            ("2025-03-27", [[first, 1]], "binh@example.org"),
        ):
            row = OutboxMessage(
                digest_key=key,
                digest_date=NOW.date(),
                recipient=reader,
                message_id=f"<{key}.{reader}>",
                subject="s",
                raw_message=b"x",
                items=items,
                status="sending",
                attempts=1,
                last_error="",
                created_at=NOW,
                updated_at=NOW,
                kind="digest",
            )
            session.add(row)
            session.flush()
            ids.append(row.id)
    _mark_sent(database, ids, LATER)
    with database.session() as session:
        got = {
            (delivery.recipient, delivery.article_id): (delivery.article_version, delivery.outbox_id)
            for delivery in session.scalars(select(Delivery))
        }
        assert {row.status for row in session.scalars(select(OutboxMessage))} == {"sent"}
    assert got == {
        ("an@example.org", first): (2, ids[1]),
        ("an@example.org", second): (1, ids[0]),
        ("an@example.org", third): (1, ids[1]),
        ("binh@example.org", first): (1, ids[2]),
    }


def _composed_alone_and_together(database, config, shared: SharedLookups) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """Every reader's message composed on its own, and composed sharing ``shared`` with the others, by address."""
    links = ReaderLinks.from_config(config)
    alone: dict[str, bytes] = {}
    together: dict[str, bytes] = {}
    with database.session(write=False) as session:
        for recipient in digest_recipients(config, session):
            key = recipient_key(recipient.email)
            alone[key] = _compose(session, config, recipient, LATER, links).raw
            together[key] = _compose(session, config, recipient, LATER, links, shared).raw
        session.rollback()
    return alone, together

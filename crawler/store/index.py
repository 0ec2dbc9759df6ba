"""The archive's full-text index: it narrows, the matcher decides.

Each article is indexed as the syllable keys the matcher itself compares: every
field goes through ``crawler.text.normalize`` and its folded key is cut into
runs of letters and digits, each run one token. A query term becomes the
phrase of its own tokens, AND/OR become intersection/union, and a NOT narrows
nothing (the matcher applies it). That gives a superset of the matches:

* a term that matches (whole syllables at both ends) is, in the folded key, a
  run of tokens that starts and ends on token boundaries, so its tokens are
  consecutive tokens of the field;
* an exact-mode match is also a folded match (folding is per character, and
  no non-word character folds to a letter, a digit or nothing — checked over
  all of Unicode by the tests), so one folded index serves both accent modes
  at half the size of an exact + folded one;
* the index is blind to punctuation inside a phrase, tone, case, tag
  boundaries and NOT: the matcher, run on the candidates only, decides those.

Tokens are plain ``[a-z0-9]`` (non-ASCII runs and runs starting with ``z`` are
escaped as ``z`` + base32hex of their UTF-8, over-long runs hashed), so
neither FTS5's tokenizer nor PostgreSQL's text search can reinterpret them.

SQLite: a contentless FTS5 table (rowid = ``articles.id``; columns title,
sapo, body, tags, category). PostgreSQL: a table of one ``tsvector`` per
article with a GIN index, weights A-D for title, sapo, body and
tags+category, phrases with ``<->``. Both are written by session events in
the transaction that writes the article (new and edited articles; a re-fetch
that changes no indexed field leaves the index alone), so the index never
drifts from the archive.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

from sqlalchemy import Integer, event, inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from crawler.query import And, Node, Not, Term
from crawler.store.models import ArticleRow
from crawler.text import Memo, Normalized, fold, normalize, term_keys

__all__ = [
    "INDEX_VERSION",
    "IndexStatus",
    "build_index",
    "candidate_ids",
    "candidate_subquery",
    "candidates_for",
    "field_tokens",
    "include_object",
    "index_available",
    "index_status",
    "narrowing",
    "rebuild_index",
    "term_tokens",
    "union",
]

# Bump when tokens change (normaliser, tokenizer, escaping): `bantin index rebuild` (or a migration) redoes it.
INDEX_VERSION = 1
TABLE = "article_index"
META = "article_index_meta"
FIELDS = ("title", "sapo", "body", "tags", "category")
# Which index columns a query scope looks in (None: title, sapo, body and tags, as the matcher).
_SCOPE_COLUMNS = {
    None: ("title", "sapo", "body", "tags"),
    "title": ("title",),
    "sapo": ("sapo",),
    "body": ("body",),
    "tag": ("tags",),
    "category": ("category",),
}
# PostgreSQL has four weights: tags and categories share D (a superset for either scope).
_WEIGHT = {"title": "A", "sapo": "B", "body": "C", "tags": "D", "category": "D"}
# tsvector limits: positions above this are clamped, and a lexeme keeps at most this many.
_PG_MAX_POSITION = 16383
_PG_MAX_POSITIONS = 256
_MAX_TOKEN = 64
BACKFILL_BATCH = 1000

# Runs of str.isalnum() characters. The matcher's word characters are these plus
# combining marks, so every matcher boundary is a token boundary (the converse
# need not hold: the index may only over-approximate).
_RUN = re.compile(r"[^\W_]+")
_ASCII_RUN = re.compile(r"[a-z0-9]+")  # the same runs in a lower-cased ASCII key
_PLAIN = re.compile(r"[a-y0-9][a-z0-9]*")
_LONG_ASCII_RUN = re.compile(rf"[a-z0-9]{{{_MAX_TOKEN + 1}}}")


def _encode(run: str) -> str:
    if len(run) <= _MAX_TOKEN and _PLAIN.fullmatch(run):
        return run
    if len(run) > _MAX_TOKEN:
        # base32hex never contains "z", so "zz" cannot start an escaped run
        return "zz" + hashlib.blake2b(run.encode("utf-8"), digest_size=10).hexdigest()
    return "z" + base64.b32hexencode(run.encode("utf-8")).decode("ascii").rstrip("=").lower()


# Run -> its token (a language has few distinct syllables).
_ENCODED: Memo[str, str] = Memo(_encode, 200_000)


def _tokens(folded_key: str) -> list[str]:
    if folded_key.isascii():  # folded Vietnamese nearly always is: its alnum runs are [a-z0-9]+
        runs = _ASCII_RUN.findall(folded_key)
        if "z" not in folded_key and not _LONG_ASCII_RUN.search(folded_key):
            return runs  # every run is its own token (Vietnamese has no z)
        return list(map(_ENCODED.__getitem__, runs))
    return list(map(_ENCODED.__getitem__, _RUN.findall(folded_key)))


# A space-free piece of a normalised key -> the tokens of its folded form. Folding keeps every space and a
# run never spans one, so a key's tokens are its pieces' tokens one after another; and no character
# lower-cases and folds to an upper-case ASCII letter (checked over all of Unicode by the tests), so an ASCII
# piece has the same runs whichever of the two patterns cuts it.
_PIECES: Memo[str, tuple[str, ...]] = Memo(lambda piece: tuple(_tokens(fold(piece))), 200_000)


def _key_tokens(normalized: Normalized) -> list[str]:
    """``_tokens(normalized.folded)``, without folding the whole key first."""
    return list(chain.from_iterable(map(_PIECES.__getitem__, normalized.pieces)))


def term_tokens(term_text: str) -> list[str]:
    """The index tokens of one query term (the same for every accent mode)."""
    return _tokens(term_keys(term_text)[1])


def field_tokens(title: str, sapo: str, body: str, tags: Sequence[str], category: Sequence[str]) -> list[list[str]]:
    """Index tokens per indexed field, in FIELDS order; tags and categories run on one after another."""
    fields = _per_field(_key_tokens, title, sapo, body, tags, category)
    return [*fields[:3], *(list(chain.from_iterable(names)) for names in fields[3:])]


# A piece -> its tokens, joined by spaces.
_PIECE_TEXTS: Memo[str, str] = Memo(lambda piece: " ".join(_PIECES[piece]), 200_000)


def _key_text(normalized: Normalized) -> str:
    """``" ".join(_key_tokens(normalized))`` as FTS5's tokenizer reads it (a piece without tokens leaves two spaces)."""
    return " ".join(map(_PIECE_TEXTS.__getitem__, normalized.pieces))


def _field_texts(title: str, sapo: str, body: str, tags: Sequence[str], category: Sequence[str]) -> list[str]:
    """What SQLite's index columns are given: ``field_tokens`` joined by spaces, FTS5 splitting them again.

    Joined piece by piece, without a list of a body's tokens in between (half the cost).
    """
    fields = _per_field(_key_text, title, sapo, body, tags, category)
    return [*fields[:3], *(" ".join(names) for names in fields[3:])]


def _per_field(of_key, title: str, sapo: str, body: str, tags: Sequence[str], category: Sequence[str]) -> list:
    """``of_key`` of each field's normalised key; for tags and categories, a list of it for each name."""
    return [
        of_key(normalize(title or "")),
        of_key(normalize(sapo or "")),
        of_key(normalize(body or "")),
        [of_key(normalize(tag)) for tag in tags or ()],
        [of_key(normalize(name)) for name in category or ()],
    ]


# --- query -> candidate expression ------------------------------------------------------------


@dataclass(frozen=True)
class _Phrase:
    columns: tuple[str, ...]
    tokens: tuple[str, ...]


@dataclass(frozen=True)
class _All:
    children: tuple[Any, ...]


@dataclass(frozen=True)
class _Any:
    children: tuple[Any, ...]


def narrowing(tree: Node) -> Any | None:
    """What the index can check of a query tree, or None when it cannot narrow it at all."""
    if isinstance(tree, Term):
        tokens = term_tokens(tree.text)
        return _Phrase(_SCOPE_COLUMNS[tree.scope], tuple(tokens)) if tokens else None
    if isinstance(tree, Not):
        return None  # the matcher applies NOT to the candidates
    children = [narrowing(child) for child in tree.children]
    if isinstance(tree, And):
        kept = tuple(child for child in children if child is not None)
        return None if not kept else kept[0] if len(kept) == 1 else _All(kept)
    if any(child is None for child in children):
        return None  # one branch that cannot be narrowed makes the whole OR unnarrowable
    return _Any(tuple(children))


def union(parts: Sequence[Any | None]) -> Any | None:
    """The candidates of any of several queries (None if one of them cannot be narrowed)."""
    if not parts or any(part is None for part in parts):
        return None
    return parts[0] if len(parts) == 1 else _Any(tuple(parts))


def _fts5(expr: Any) -> str:
    if isinstance(expr, _Phrase):
        return f'{{{" ".join(expr.columns)}}} : "{" ".join(expr.tokens)}"'
    joiner = " AND " if isinstance(expr, _All) else " OR "
    return "(" + joiner.join(_fts5(child) for child in expr.children) + ")"


def _tsquery(expr: Any, *, positions: bool) -> str:
    if isinstance(expr, _Phrase):
        if not positions:
            return "(" + " & ".join(f"'{token}'" for token in expr.tokens) + ")"
        weights = "".join(sorted({_WEIGHT[column] for column in expr.columns}))
        return "(" + " <-> ".join(f"'{token}':{weights}" for token in expr.tokens) + ")"
    joiner = " & " if isinstance(expr, _All) else " | "
    return "(" + joiner.join(_tsquery(child, positions=positions) for child in expr.children) + ")"


def candidate_subquery(dialect: str, expr: Any):
    """A one-column (``id``) selectable of the articles the index cannot rule out."""
    if dialect == "sqlite":
        statement = text(f"SELECT rowid AS id FROM {TABLE} WHERE {TABLE} MATCH :index_query")
        statement = statement.bindparams(index_query=_fts5(expr))
    else:
        statement = text(
            f"SELECT article_id AS id FROM {TABLE} WHERE (NOT overflow AND doc @@ CAST(:index_query AS tsquery)) "
            "OR (overflow AND doc @@ CAST(:index_query_plain AS tsquery))"
        ).bindparams(index_query=_tsquery(expr, positions=True), index_query_plain=_tsquery(expr, positions=False))
    return statement.columns(id=Integer).subquery("candidates")


def candidates_for(session: Session, tree: Node):
    """(candidate subquery, None), or (None, why) when the archive has to be scanned instead."""
    if not index_available(session):
        return None, "the archive index is missing or in an older format (run `bantin index rebuild`)"
    expr = narrowing(tree)
    if expr is None:
        return None, "no part of the query that must be present can be looked up in the index"
    return candidate_subquery(session.get_bind().dialect.name, expr), None


def candidate_ids(session: Session, expr: Any, *, after: int = -1, limit: int | None = 1000) -> list[int]:
    """The next ``limit`` (None: all) candidate ids above ``after``, in id order (for walking all candidates)."""
    candidates = candidate_subquery(session.get_bind().dialect.name, expr)
    query = select(candidates.c.id).where(candidates.c.id > after).order_by(candidates.c.id)
    return list(session.scalars(query if limit is None else query.limit(limit)))


# --- state ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IndexStatus:
    articles: int
    indexed: int
    version: int | None

    @property
    def current(self) -> bool:
        return self.version == INDEX_VERSION

    @property
    def complete(self) -> bool:
        return self.current and self.articles == self.indexed

    def describe(self) -> str:
        if self.version is None:
            return "missing: run `bantin index rebuild`"
        if not self.current:
            return f"format {self.version}, this bantin writes {INDEX_VERSION}: run `bantin index rebuild`"
        if self.articles != self.indexed:
            return f"incomplete: {self.indexed} of {self.articles} articles: run `bantin index rebuild`"
        return f"complete ({self.indexed} articles)"


def _version(connection: Connection) -> int | None:
    """The index format the database holds (None: no index tables)."""
    cache = connection.info
    if "bantin_index_version" not in cache:
        if not inspect(connection).has_table(META):
            return None  # not cached: a migration may be about to create it
        cache["bantin_index_version"] = connection.execute(
            text(f"SELECT version FROM {META} WHERE name = 'articles'")
        ).scalar()
    return cache["bantin_index_version"]


def index_available(session: Session) -> bool:
    """Can queries trust the index? (present and in this code's format)"""
    return _version(session.connection()) == INDEX_VERSION


def index_status(session: Session) -> IndexStatus:
    connection = session.connection()
    connection.info.pop("bantin_index_version", None)
    version = _version(connection)
    articles = connection.execute(text("SELECT count(*) FROM articles")).scalar_one()
    if version is None:
        return IndexStatus(articles, 0, None)
    docs = f"{TABLE}_docsize" if connection.dialect.name == "sqlite" else TABLE
    return IndexStatus(articles, connection.execute(text(f"SELECT count(*) FROM {docs}")).scalar_one(), version)


# PostgreSQL only (migration 0004): the archive's newest-first order, which no ORM index can spell for both.
NEWEST_FIRST_INDEX = "ix_articles_newest_first"


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic filter: the index's tables (and one index) are dialect-specific and not in the ORM metadata, nor is
    procrastinate's job queue (cluster mode, migration 0005), whose schema is procrastinate's own."""
    if type_ == "index" and name == NEWEST_FIRST_INDEX:
        return False
    if type_ == "table" and name and name.startswith("procrastinate_"):
        return False
    return not (type_ == "table" and name and (name == META or name == TABLE or name.startswith(TABLE + "_")))


# --- writing ----------------------------------------------------------------------------------


def create_index(connection: Connection) -> None:
    """The index tables, empty (migration 0003)."""
    if connection.dialect.name == "sqlite":
        # Contentless: the index keeps no copy of the text. `ascii` splits on anything that is
        # not [A-Za-z0-9] or non-ASCII, which never splits one of our tokens.
        connection.execute(
            text(
                f"CREATE VIRTUAL TABLE {TABLE} USING fts5(title, sapo, body, tags, category, "
                "content='', tokenize='ascii')"
            )
        )
    else:
        connection.execute(
            text(
                f"CREATE TABLE {TABLE} (article_id BIGINT PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE, "
                "doc TSVECTOR NOT NULL, overflow BOOLEAN NOT NULL DEFAULT false)"
            )
        )
        connection.execute(text(f"CREATE INDEX ix_{TABLE}_doc ON {TABLE} USING gin (doc)"))
    connection.execute(text(f"CREATE TABLE {META} (name VARCHAR(32) PRIMARY KEY, version INTEGER NOT NULL)"))
    connection.execute(text(f"INSERT INTO {META} (name, version) VALUES ('articles', :v)"), {"v": INDEX_VERSION})
    connection.info.pop("bantin_index_version", None)


def _pg_document(fields: list[list[str]]) -> tuple[str, bool]:
    """A tsvector literal (no parser, no dictionary: tokens go in as they are) and whether it overflowed."""
    positions: dict[str, list[str]] = {}
    position = 0
    for column, tokens in zip(FIELDS, fields, strict=True):
        weight = _WEIGHT[column]
        for token in tokens:
            position += 1
            positions.setdefault(token, []).append(f"{position}{weight}")
    if position > _PG_MAX_POSITION or any(len(found) > _PG_MAX_POSITIONS for found in positions.values()):
        # PostgreSQL would clamp or drop positions and miss phrases: keep the lexemes, match them with AND.
        return " ".join(f"'{token}'" for token in positions), True
    return " ".join(f"'{token}':{','.join(found)}" for token, found in positions.items()), False


# An article as the index is written from it: its key, title, sapo, body, tags and categories.
IndexedFields = tuple[int, str, str, str, Sequence[str], Sequence[str]]


def _write(connection: Connection, rows: Iterable[IndexedFields]) -> None:
    rows = list(rows)
    if not rows:
        return
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql(
            f"INSERT INTO {TABLE} (rowid, title, sapo, body, tags, category) VALUES (?, ?, ?, ?, ?, ?)",
            [(row[0], *_field_texts(*row[1:])) for row in rows],
        )
    else:
        params = []
        for row in rows:
            document, overflow = _pg_document(field_tokens(*row[1:]))
            params.append({"key": row[0], "doc": document, "overflow": overflow})
        connection.execute(
            text(
                f"INSERT INTO {TABLE} (article_id, doc, overflow) VALUES (:key, CAST(:doc AS tsvector), :overflow) "
                "ON CONFLICT (article_id) DO UPDATE SET doc = excluded.doc, overflow = excluded.overflow"
            ),
            params,
        )


def _unindex(connection: Connection, keys: Sequence[int]) -> None:
    """Take these articles out of the index, reading what was indexed from their stored (old) fields."""
    if not keys:
        return
    if connection.dialect.name != "sqlite":
        connection.execute(text(f"DELETE FROM {TABLE} WHERE article_id = ANY(:keys)"), {"keys": list(keys)})
        return
    # A contentless FTS5 table forgets a document only when told its exact tokens, and
    # must not be told about one it does not hold: recompute them from what is stored.
    marks = ",".join("?" * len(keys))
    held = [
        key
        for (key,) in connection.exec_driver_sql(f"SELECT id FROM {TABLE}_docsize WHERE id IN ({marks})", tuple(keys))
    ]
    if not held:
        return
    marks = ",".join("?" * len(held))
    old = connection.exec_driver_sql(
        f"SELECT id, title, sapo, body, tags, category FROM articles WHERE id IN ({marks})", tuple(held)
    ).all()
    params = [
        (key, *_field_texts(title, sapo, body, _json_list(tags), _json_list(category)))
        for key, title, sapo, body, tags, category in old
    ]
    connection.exec_driver_sql(
        f"INSERT INTO {TABLE} ({TABLE}, rowid, title, sapo, body, tags, category) VALUES ('delete', ?, ?, ?, ?, ?, ?)",
        params,
    )


def _json_list(value: Any) -> list[str]:
    if isinstance(value, str):
        value = json.loads(value)
    return list(value or ())


_INDEXED_ATTRIBUTES = ("title", "sapo", "body", "tags", "category")


def _content_changed(row: ArticleRow) -> bool:
    state = inspect(row)
    return any(state.attrs[name].history.has_changes() for name in _INDEXED_ATTRIBUTES)


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, flush_context, instances) -> None:
    changed = [row for row in session.dirty if isinstance(row, ArticleRow) and _content_changed(row)]
    removed = [row for row in session.deleted if isinstance(row, ArticleRow)]
    new = [row for row in session.new if isinstance(row, ArticleRow)]
    if not (changed or removed or new):
        return
    connection = session.connection()
    if _version(connection) != INDEX_VERSION:
        return  # no index yet (or an old format awaiting a rebuild): nothing to keep in step
    # Before the flush the stored row still holds what the index was built from.
    _unindex(connection, [row.id for row in changed + removed if row.id is not None])
    session.info.setdefault("bantin_index_pending", []).extend(changed + new)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, flush_context) -> None:
    pending = session.info.pop("bantin_index_pending", None)
    if pending:
        live = [row for row in pending if row not in session.deleted]
        _write(session.connection(), ((row.id, row.title, row.sapo, row.body, row.tags, row.category) for row in live))


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop("bantin_index_pending", None)


# --- building ---------------------------------------------------------------------------------


def build_index(connection: Connection, *, batch_size: int = BACKFILL_BATCH, progress: bool | None = None) -> int:
    """Index every stored article not in the index yet, in batches; returns how many were added.

    Progress goes to stderr, only when it is a terminal.
    """
    show = sys.stderr.isatty() if progress is None else progress
    total = connection.execute(text("SELECT count(*) FROM articles")).scalar_one()
    held_table = f"{TABLE}_docsize" if connection.dialect.name == "sqlite" else TABLE
    held_key = "id" if connection.dialect.name == "sqlite" else "article_id"
    done = added = 0
    last = -1
    while True:
        rows = connection.execute(
            text(
                f"SELECT a.id, a.title, a.sapo, a.body, a.tags, a.category FROM articles a "
                f"WHERE a.id > :last AND NOT EXISTS (SELECT 1 FROM {held_table} h WHERE h.{held_key} = a.id) "
                "ORDER BY a.id LIMIT :n"
            ),
            {"last": last, "n": batch_size},
        ).all()
        if not rows:
            break
        _write(
            connection,
            (
                (key, title, sapo, body, _json_list(tags), _json_list(category))
                for key, title, sapo, body, tags, category in rows
            ),
        )
        added += len(rows)
        done = added
        last = rows[-1][0]
        if show:
            print(f"\rindexing the archive: {done}/{total} articles", end="", file=sys.stderr, flush=True)
    if show and added:
        print(file=sys.stderr)
    return added


def rebuild_index(connection: Connection, *, progress: bool | None = None) -> int:
    """Drop and rebuild the index in this code's format (after a normaliser change)."""
    if inspect(connection).has_table(META):
        connection.execute(text(f"DROP TABLE {META}"))
    connection.execute(text(f"DROP TABLE IF EXISTS {TABLE}"))
    create_index(connection)
    return build_index(connection, progress=progress)

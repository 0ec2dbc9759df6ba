"""The topic query language: parse, inspect and render query trees.

Grammar (operators are ASCII upper case only; "và", "hoặc", "không", "and" are words)::

    query   := or
    or      := and ("OR" and)*
    and     := unary (["AND"] unary)*           -- juxtaposition is AND
    unary   := ("NOT" | "-") unary | primary     -- "-" only directly before a term
    primary := "(" or ")" | FIELD ":" primary | PHRASE
    PHRASE  := '"' text '"' | a run of ordinary words (one phrase: Quảng Ninh)
    FIELD   := title | sapo | body | tag | category

A field scope applies to the phrase or parenthesised group right after it and
cannot be nested. Every query must contain a term that has to be present: a
query that could match an article containing none of its terms ("NOT x",
"a OR NOT b") is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from crawler.errors import QueryError
from crawler.text import INVISIBLE, term_keys

__all__ = [
    "FIELDS",
    "And",
    "Node",
    "Not",
    "Or",
    "Term",
    "parse_query",
    "positive_terms",
    "render",
    "terms",
]

FIELDS = ("title", "sapo", "body", "tag", "category")
_FIELD_PREFIX = re.compile(r"([A-Za-z]+):")
_OPERATORS = {"AND", "OR", "NOT"}


@dataclass(frozen=True)
class Term:
    """One phrase. ``scope`` is a field name, or None for title, sapo, body and tags."""

    text: str
    scope: str | None = None
    position: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Not:
    child: Node
    position: int = field(default=0, compare=False)


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]
    position: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]
    position: int = field(default=0, compare=False)


Node = Term | Not | And | Or


@dataclass(frozen=True)
class _Token:
    kind: str  # "(", ")", "AND", "OR", "NOT", "FIELD", "QUOTED", "WORD"
    position: int
    text: str = ""
    end: int = 0


def _tokenize(query: str, topic: str | None) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(query)
    while i < n:
        char = query[i]
        if char.isspace() or char in INVISIBLE:
            i += 1
        elif char in "()":
            tokens.append(_Token(char, i))
            i += 1
        elif char == '"':
            close = query.find('"', i + 1)
            if close < 0:
                raise QueryError("unbalanced quote: this '\"' is never closed", query=query, position=i, topic=topic)
            tokens.append(_Token("QUOTED", i, query[i + 1 : close], close + 1))
            i = close + 1
        elif char == "-" and i + 1 < n and not query[i + 1].isspace() and query[i + 1] not in ")-":
            tokens.append(_Token("NOT", i, "-"))
            i += 1
        else:
            j = i
            while j < n and not query[j].isspace() and query[j] not in '()"':
                j += 1
            word = query[i:j]
            rest = query[j:].lstrip()
            if word == "-" and (not rest or rest[0] == ")"):
                raise QueryError("dangling operator '-': nothing follows it", query=query, position=i, topic=topic)
            prefix = _FIELD_PREFIX.match(word)
            if word in _OPERATORS:
                tokens.append(_Token(word, i, word))
                i = j
            elif prefix:
                name = prefix.group(1).lower()
                if name not in FIELDS:
                    raise QueryError(
                        f"unknown field {prefix.group(1)!r} (fields: {', '.join(FIELDS)}; "
                        "put text containing ':' in quotes)",
                        query=query,
                        position=i,
                        topic=topic,
                    )
                tokens.append(_Token("FIELD", i, name))
                i += prefix.end()
            else:
                tokens.append(_Token("WORD", i, word, j))
                i = j
    return tokens


class _Parser:
    def __init__(self, query: str, topic: str | None):
        self.query = query
        self.topic = topic
        self.tokens = _tokenize(query, topic)
        self.index = 0

    def error(self, message: str, position: int) -> QueryError:
        return QueryError(message, query=self.query, position=position, topic=self.topic)

    def peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def parse(self) -> Node:
        if not self.tokens:
            raise self.error("empty query", 0)
        node = self.parse_or()
        extra = self.peek()
        if extra is not None:
            if extra.kind == ")":
                raise self.error("unbalanced parenthesis: ')' has no matching '('", extra.position)
            raise self.error(f"unexpected {extra.kind!r}", extra.position)  # pragma: no cover
        return node

    def need_operand(self, operator: _Token) -> None:
        nxt = self.peek()
        if nxt is None or nxt.kind in ("AND", "OR", ")"):
            raise self.error(f"dangling operator {operator.text!r}: nothing after it", operator.position)

    def parse_or(self) -> Node:
        children = [self.parse_and()]
        while (token := self.peek()) is not None and token.kind == "OR":
            self.take()
            self.need_operand(token)
            children.append(self.parse_and())
        return children[0] if len(children) == 1 else _flatten(Or, children)

    def parse_and(self) -> Node:
        children = [self.parse_unary()]
        while (token := self.peek()) is not None and token.kind not in ("OR", ")"):
            if token.kind == "AND":
                self.take()
                self.need_operand(token)
            children.append(self.parse_unary())
        return children[0] if len(children) == 1 else _flatten(And, children)

    def parse_unary(self) -> Node:
        token = self.peek()
        if token is not None and token.kind == "NOT":
            self.take()
            self.need_operand(token)
            return Not(self.parse_unary(), token.position)
        return self.parse_primary()

    def parse_primary(self) -> Node:
        token = self.peek()
        if token is None:  # pragma: no cover - callers check for an operand first
            raise self.error("the query ends where a term was expected", len(self.query))
        if token.kind in ("AND", "OR"):
            raise self.error(f"dangling operator {token.text!r}: nothing before it", token.position)
        if token.kind == ")":
            raise self.error("unbalanced parenthesis: ')' has no matching '('", token.position)
        if token.kind == "(":
            self.take()
            inner = self.peek()
            if inner is not None and inner.kind == ")":
                raise self.error("empty parentheses", token.position)
            if inner is None:
                raise self.error("unbalanced parenthesis: this '(' is never closed", token.position)
            node = self.parse_or()
            close = self.peek()
            if close is None or close.kind != ")":
                raise self.error("unbalanced parenthesis: this '(' is never closed", token.position)
            self.take()
            return node
        if token.kind == "FIELD":
            self.take()
            nxt = self.peek()
            if nxt is None or nxt.kind not in ("(", "QUOTED", "WORD"):
                raise self.error(f"field '{token.text}:' needs a phrase or a group after it", token.position)
            return self.scope(self.parse_primary(), token)
        if token.kind == "QUOTED":
            self.take()
            return self.term(token.text, token.position + 1, token.position)
        return self.bare_run()

    def bare_run(self) -> Term:
        first = last = self.take()
        while (token := self.peek()) is not None and token.kind == "WORD":
            last = self.take()
        return self.term(self.query[first.position : last.end], first.position, first.position)

    def term(self, text: str, position: int, error_position: int) -> Term:
        key = term_keys(text)[0]
        if not key:
            raise self.error("empty phrase", error_position)
        if not any(char.isalnum() for char in key):
            raise self.error(f"a term needs a letter or a digit, not only {text.strip()!r}", error_position)
        return Term(" ".join(text.split()), None, position)

    def scope(self, node: Node, token: _Token) -> Node:
        if isinstance(node, Term):
            if node.scope is not None:
                raise self.error("field scopes cannot be nested", node.position)
            return replace(node, scope=token.text)
        if isinstance(node, Not):
            return replace(node, child=self.scope(node.child, token))
        return replace(node, children=tuple(self.scope(child, token) for child in node.children))


def _flatten(kind: type[And] | type[Or], children: list[Node]) -> Node:
    flat: list[Node] = []
    for child in children:
        flat.extend(child.children if isinstance(child, kind) else (child,))
    return kind(tuple(flat), children[0].position)


def _unanchored(node: Node) -> Node | None:
    """The part of the tree that lets it match without any of its terms, if any."""
    if isinstance(node, Term):
        return None
    if isinstance(node, Not):
        return node
    if isinstance(node, And):
        offenders = [_unanchored(child) for child in node.children]
        return None if any(o is None for o in offenders) else offenders[0]
    for child in node.children:
        offender = _unanchored(child)
        if offender is not None:
            return offender
    return None


def parse_query(query: str, *, topic: str | None = None) -> Node:
    """Parse a topic query; raise QueryError (with position and topic) if it is malformed."""
    parser = _Parser(query, topic)
    node = parser.parse()
    offender = _unanchored(node)
    if offender is not None:
        raise parser.error(
            "the query can match articles that contain none of its terms "
            "(a NOT-only query or branch); add a term that must be present",
            offender.position,
        )
    return node


def terms(node: Node) -> list[Term]:
    """Every term of the tree, left to right (negated ones included)."""
    return list(_walk(node, negated=False, include_negated=True))


def positive_terms(node: Node) -> list[Term]:
    """The terms not under a NOT: those whose presence can make the query match."""
    return list(_walk(node, negated=False, include_negated=False))


def _walk(node: Node, *, negated: bool, include_negated: bool) -> Iterator[Term]:
    if isinstance(node, Term):
        if include_negated or not negated:
            yield node
    elif isinstance(node, Not):
        yield from _walk(node.child, negated=not negated, include_negated=include_negated)
    else:
        for child in node.children:
            yield from _walk(child, negated=negated, include_negated=include_negated)


def render(node: Node, *, canonical: bool = False) -> str:
    """Query text for ``node``; parsing it gives the same tree.

    ``canonical`` writes each phrase as its normalised exact key (lower case,
    tone marks in one place), so equivalent spellings render identically.
    """
    if isinstance(node, Term):
        text = term_keys(node.text)[0] if canonical else node.text
        return f'{node.scope}:"{text}"' if node.scope else f'"{text}"'
    if isinstance(node, Not):
        inner = render(node.child, canonical=canonical)
        return f"NOT {inner}" if isinstance(node.child, (Term, Not)) else f"NOT ({inner})"
    if isinstance(node, And):
        parts = [render(child, canonical=canonical) for child in node.children]
        return " AND ".join(
            f"({part})" if isinstance(child, Or) else part for child, part in zip(node.children, parts, strict=True)
        )
    return " OR ".join(render(child, canonical=canonical) for child in node.children)

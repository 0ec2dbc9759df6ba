"""Wire copies: a story one look-alike publishes and one or two others republish within hours, lightly edited.

The plan is drawn from the four outlets' articles as generated (``plan``), so every outlet's model,
built alone or in a network, agrees on it; a copy takes the place of one of its outlet's own articles
of the same themes (``derive``), keeping that article's id, URL, times, section, tags and images, so
the number of articles per outlet and day, their ids and their URLs do not change. The edits are the
ones wire copy gets: another headline, the source's dateline before the sapo, a sentence cut, a
sentence added, a byline or a closing line crediting the source. Articles with served quirks (NFD,
``Ð``, old tone placement), videos and note boxes never take part: their traps stay where they were.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from crawler.samplesite import texts
from crawler.samplesite.outlets import Outlet

if TYPE_CHECKING:
    from crawler.samplesite.model import SampleArticle

# Stories republished per day: this share of the day's articles over all outlets, at least one.
SHARE = 0.035
# A copy follows its original by this much at least and at most.
EARLIEST, LATEST = timedelta(minutes=20), timedelta(hours=6)
# Who is copied: mostly the national wire, then the party paper, the provincial paper, Tiền Phong.
ORIGIN_WEIGHTS = {"vietnamplus": 5, "nhandan": 3, "baoquangninh": 2, "tienphong": 1}
# The first story of each day carries a theme the demo's topics follow, alternately each one, so a digest
# of the sample site shows stories with several outlets.
FEATURED = (frozenset({"cnht"}), frozenset({"quang-ninh"}))
# Sentences the topics and their traps match on ("công nghiệp. Hỗ trợ" is two sentences): never cut.
_PROTECTED = ("quảng ninh", "quảng nam", "công nghiệp", "hỗ trợ", "cnht", "hạ long", "vân đồn", "hội an")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")

# Headline edits: (pattern, replacement), one or two per reworded headline.
REWORDINGS: tuple[tuple[str, str], ...] = (
    (r"^Đẩy mạnh ", "Tiếp tục đẩy mạnh "),
    (r"\bđẩy mạnh\b", "thúc đẩy"),
    (r"^Nâng cao ", "Không ngừng nâng cao "),
    (r"^Bảo đảm ", "Đảm bảo "),
    (r"^Tăng cường ", "Đẩy mạnh "),
    (r"^Phát triển ", "Thúc đẩy phát triển "),
    (r"^Chủ động ", "Tích cực, chủ động "),
    (r"^Triển lãm ", "Hội chợ, triển lãm "),
    (r"^Khởi tố ", "Khởi tố, bắt giữ các đối tượng trong "),
    (r"\bthu hút\b", "hút"),
    (r"(?<!thu )\bhút\b", "thu hút"),
    (r"\bdoanh nghiệp\b", "DN"),
    (r"\bViệt Nam\b", "VN"),
    (r"\bThành phố Hồ Chí Minh\b", "TP Hồ Chí Minh"),
    (r"\bhơn\b", "trên"),
    (r"\bgiành\b", "đoạt"),
    (r"\btăng\b(?! cường)", "tăng mạnh"),
    (r": ", " - "),
)


@dataclass(frozen=True)
class WireGroup:
    """One story on several outlets: its first publication and the copies, each ``(outlet id, article id)``."""

    origin: tuple[str, int]
    copies: tuple[tuple[str, int], ...]


def eligible(article: SampleArticle) -> bool:
    return not article.video and not article.quirk and article.notebox is None


def plan(seed: int, articles: Mapping[str, Sequence[SampleArticle]]) -> list[WireGroup]:
    """Which articles are copies of which, day by day: ``articles`` is every outlet's, as generated."""
    by_day: dict[date, dict[str, list[SampleArticle]]] = {}
    for outlet_id in sorted(articles):
        for article in articles[outlet_id]:
            by_day.setdefault(article.published_at.date(), {}).setdefault(outlet_id, []).append(article)
    used: set[tuple[str, int]] = set()
    groups: list[WireGroup] = []
    for number, day in enumerate(sorted(by_day)):
        rng = random.Random(f"wire:{seed}:{day.isoformat()}")
        today = by_day[day]
        wanted = max(1, round(SHARE * sum(len(day_articles) for day_articles in today.values())))
        for index in range(wanted):
            themes = [FEATURED[number % 2], FEATURED[(number + 1) % 2]] if index == 0 else [None]
            for theme in themes:
                group = _one_group(rng, today, used, theme)
                if group is not None:
                    groups.append(group)
                    used |= {group.origin, *group.copies}
                    break
    return groups


def _one_group(
    rng: random.Random,
    today: dict[str, list[SampleArticle]],
    used: set[tuple[str, int]],
    theme: frozenset[str] | None,
) -> WireGroup | None:
    candidates = [
        (outlet_id, article)
        for outlet_id, day_articles in today.items()
        for article in day_articles
        if eligible(article)
        and (outlet_id, article.article_id) not in used
        and (theme is None or article.themes == theme)
    ]
    # A weighted random order (Efraimidis-Spirakis keys): the wire is tried first more often.
    keyed = sorted(
        (
            (rng.random() ** (1.0 / ORIGIN_WEIGHTS.get(outlet_id, 1)), outlet_id, article.article_id, article)
            for outlet_id, article in candidates
        ),
        key=lambda entry: (-entry[0], entry[1], entry[2]),
    )
    for _, outlet_id, _, origin in keyed:
        others = sorted(other for other in today if other != outlet_id)
        rng.shuffle(others)
        wanted = rng.choice((1, 1, 2))
        copies: list[tuple[str, int]] = []
        for other in others:
            slots = [
                article
                for article in today[other]
                if eligible(article)
                and (other, article.article_id) not in used
                and article.themes == origin.themes
                and EARLIEST <= article.published_at - origin.published_at <= LATEST
            ]
            if slots:
                copies.append((other, rng.choice(slots).article_id))
            if len(copies) == wanted:
                break
        if copies:
            return WireGroup((outlet_id, origin.article_id), tuple(copies))
    return None


def _sentences(paragraph: str) -> list[str]:
    """A paragraph's sentences; joined with one space they are the paragraph again."""
    out: list[str] = []
    for part in _SENTENCE_END.split(paragraph):
        if out and not part[:1].isupper():
            out[-1] += " " + part  # "5.000 doanh nghiệp", a quotation mark: not a new sentence
        else:
            out.append(part)
    return out


def reword(title: str, rng: random.Random) -> str:
    """Another headline for the same story (the same one when no edit applies)."""
    rules = list(REWORDINGS)
    for _ in range(rng.choice((1, 1, 2))):
        applicable = [rule for rule in rules if re.search(rule[0], title)]
        if not applicable:
            break
        rule = rng.choice(applicable)
        rules.remove(rule)
        title = re.sub(rule[0], rule[1], title, count=1)
    return title[:1].upper() + title[1:]


def derive(origin: SampleArticle, slot: SampleArticle, seed: int) -> dict:
    """The copy's text in ``slot``'s place: ``title``, ``sapo``, ``paragraphs``, ``author``, ``author_line``."""
    source, target = origin.outlet, slot.outlet
    rng = random.Random(f"wire:{seed}:{source.id}:{origin.article_id}:{target.id}:{slot.article_id}")
    title = reword(origin.title, rng) if rng.random() < 0.75 else origin.title
    sapo = _bare_sapo(origin.sapo, source)
    own_prefix = _own_prefix(slot.sapo, target)
    if own_prefix:
        sapo = own_prefix + sapo
    elif not slot.sapo_prefix and source.dateline and rng.random() < 0.5:
        sapo = f"{source.dateline} - {sapo}"

    paragraphs = [_sentences(paragraph) for paragraph in origin.paragraphs]
    edits = [name for name in ("cut", "add") if rng.random() < 0.6] or ["cut"]
    if "cut" in edits:
        cuttable = [
            (number, index)
            for number, sentences in enumerate(paragraphs)
            if len(sentences) > 1
            for index, sentence in enumerate(sentences)
            if (number, index) != (0, 0) and not any(word in sentence.lower() for word in _PROTECTED)
        ]
        if cuttable:
            number, index = rng.choice(cuttable)
            del paragraphs[number][index]
    if "add" in edits:
        rng.choice(paragraphs[1:] or paragraphs).append(rng.choice(texts.WIRE_ADDITIONS))
    body = [" ".join(sentences) for sentences in paragraphs]

    author, author_line = slot.author, slot.author_line
    if source.credit_byline and rng.random() < 0.5:
        author, author_line = source.credit_byline, f"Theo {source.credit_byline}"
    elif rng.random() < 0.6:
        body.append(f"(Theo {source.credit})")
    return {"title": title, "sapo": sapo, "paragraphs": body, "author": author, "author_line": author_line}


def _bare_sapo(sapo: str, outlet: Outlet) -> str:
    prefix = _own_prefix(sapo, outlet)
    return sapo[len(prefix) :]


def _own_prefix(sapo: str, outlet: Outlet) -> str:
    """The outlet's own dateline that begins ``sapo`` when the outlet keeps it in the text ("NDO - ")."""
    if not outlet.sapo_prefix_in_truth:
        return ""
    return next((prefix for prefix in outlet.sapo_prefixes if sapo.startswith(prefix)), "")


def story_groups(articles: Mapping[str, Iterable[SampleArticle]]) -> list[frozenset[tuple[str, str]]]:
    """The ground truth of one story across outlets: ``(outlet id, external id)`` sets with more than one outlet.

    Only the outlets in ``articles`` count: a story whose other copies are on outlets left out is one
    article here.
    """
    found: dict[tuple[str, int], set[tuple[str, str]]] = {}
    for outlet_id, outlet_articles in articles.items():
        for article in outlet_articles:
            if article.wire is not None:
                found.setdefault(article.wire, set()).add((outlet_id, str(article.article_id)))
    return sorted((frozenset(members) for members in found.values() if len(members) > 1), key=sorted)

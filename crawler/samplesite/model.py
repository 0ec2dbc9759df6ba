"""The sample site's content: zones, tags and synthetic articles with their ground truth.

Everything is drawn from one ``random.Random(seed)`` kept on the model, so the
same seed and the same sequence of calls (generate, publish, edit) always give
the same site. Wall-clock time is only read when no ``end_date`` is given.
"""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache

from crawler.clock import VIETNAM, utcnow
from crawler.samplesite import texts, wire
from crawler.samplesite.outlets import NDO, OUTLETS, Outlet, get_outlet

QUIRKS = ("", "nfd", "eth", "legacy-tone")
LAYOUTS = ("standard", "legacy-pictures", "drifted")


# ---------------------------------------------------------------- text helpers


def fold(text: str) -> str:
    """Accent-, case- and eth-insensitive key: how the site's search compares text."""
    text = unicodedata.normalize("NFD", text.replace("Đ", "d").replace("đ", "d").replace("Ð", "d"))
    return "".join(ch for ch in text if not unicodedata.combining(ch)).lower()


def slugify(text: str, max_words: int = 14) -> str:
    words = re.findall(r"[a-z0-9]+", fold(text))
    return "-".join(words[:max_words]) or "bai-viet"


def compact_slug(text: str) -> str:
    return "".join(re.findall(r"[a-z0-9]+", fold(text)))


_MODERN_OA = {"ò": "oà", "ó": "oá", "ỏ": "oả", "õ": "oã", "ọ": "oạ"}
_MODERN_OE = {"ò": "oè", "ó": "oé", "ỏ": "oẻ", "õ": "oẽ", "ọ": "oẹ"}
_MODERN_UY = {"ù": "uỳ", "ú": "uý", "ủ": "uỷ", "ũ": "uỹ", "ụ": "uỵ", "Ủ": "Uỷ", "Ú": "Uý"}
_OA_RE = re.compile(r"([òóỏõọ])([ae])(?!\w)")
_UY_RE = re.compile(r"(?<![qQ])([ùúủũụỦÚ])y(?!\w)")


def legacy_tone(text: str) -> str:
    """Move tone marks to the old placement (hòa -> hoà, thủy -> thuỷ); still NFC."""
    text = _OA_RE.sub(lambda m: (_MODERN_OA if m.group(2) == "a" else _MODERN_OE)[m.group(1)], text)
    return _UY_RE.sub(lambda m: _MODERN_UY[m.group(1)], text)


# ---------------------------------------------------------------- data classes


@dataclass(frozen=True)
class Zone:
    zone_id: int
    slug: str
    name: str
    parent: Zone | None
    family: str

    @property
    def path(self) -> str:
        return f"/{self.slug}"

    @property
    def rss_path(self) -> str:
        return f"/rss/{self.slug}-{self.zone_id}.rss"

    @property
    def chain(self) -> list[Zone]:
        return [self.parent, self] if self.parent else [self]


@dataclass(frozen=True)
class Tag:
    tag_id: int
    name: str

    @property
    def path(self) -> str:
        return f"/tu-khoa/{compact_slug(self.name)}-tag{self.tag_id}.html"


@dataclass(frozen=True)
class Topic:
    topic_id: int
    name: str
    tag: str

    @property
    def path(self) -> str:
        return f"/chu-de/{slugify(self.name)}-{self.topic_id}.html"


@dataclass
class SampleImage:
    url: str
    caption: str
    after_paragraph: int  # the image follows this paragraph index (-1: before the first)

    @property
    def thumb_url(self) -> str:
        return self.url.replace("/w800/", "/w500/", 1)


@dataclass
class SampleArticle:
    """One synthetic article and the exact fields a correct extractor must return.

    The ground-truth fields are NFC with ``Đ`` (never ``Ð``); ``quirk`` says how
    the page serves them (``nfd``: decomposed, ``eth``: ``Ð`` for ``Đ``,
    ``legacy-tone``: old tone placement, which is also the ground truth since NFC
    does not change it).
    """

    article_id: int
    slug: str
    title: str
    sapo: str
    paragraphs: list[str]
    author: str  # ground truth: no prefix, "" when the paper itself signs
    author_line: str  # what the page shows in .article__author
    zone: Zone
    tags: list[Tag]
    images: list[SampleImage]
    published_at: datetime
    modified_at: datetime
    video: bool = False
    related_ids: list[int] = field(default_factory=list)
    notebox: tuple[int, int] | None = None  # paragraph index range [start, end) inside div.notebox
    quirk: str = ""
    layout: str = "standard"
    jsonld_in_list: bool = False
    themes: frozenset[str] = frozenset()
    revision: int = 0
    outlet: Outlet = NDO
    # A dateline the page puts before the sapo that is not part of it (Tiền Phong's "TPO - ").
    sapo_prefix: str = ""
    # The story this article tells on several outlets, as (outlet id, article id) of its first publication
    # (the original's own key on the original); None when no other outlet ran it.
    wire: tuple[str, int] | None = None

    @property
    def path(self) -> str:
        return self.outlet.path_format.format(slug=self.slug, id=self.article_id, ext=self.outlet.ext)

    def url(self, base_url: str = "https://nhandan.vn") -> str:
        return base_url.rstrip("/") + self.path

    @property
    def categories(self) -> list[str]:
        return [zone.name for zone in self.zone.chain]

    @property
    def tag_names(self) -> list[str]:
        return [tag.name for tag in self.tags]

    @property
    def body(self) -> str:
        return "\n\n".join(self.paragraphs)

    @property
    def thumb_url(self) -> str:
        if self.images:
            return self.images[0].thumb_url
        return f"{self.outlet.static}/styles/img/default-thumb.jpg"

    def served(self, text: str) -> str:
        """``text`` as this article's page spells it."""
        if self.quirk == "nfd":
            return unicodedata.normalize("NFD", text)
        if self.quirk == "eth":
            return text.replace("Đ", "Ð")
        return text

    def served_sapo(self) -> str:
        """The sapo as the page prints it, dateline included."""
        return self.served(self.sapo_prefix + self.sapo)

    def expected(self, base_url: str = "https://nhandan.vn") -> dict:
        """Ground truth in the shape of ``crawler.items.ExtractedArticle.to_dict()`` (less extractor bookkeeping)."""
        return {
            "site": self.outlet.id,
            "external_id": str(self.article_id),
            "url": self.url(base_url),
            "title": self.title,
            "sapo": self.sapo,
            "body": self.body,
            "author": self.author,
            "published_at": self.published_at.isoformat(),
            "modified_at": self.modified_at.isoformat(),
            "category": self.categories,
            "tags": self.tag_names,
            "images": [{"url": image.url, "caption": image.caption} for image in self.images],
        }

    def as_item(self, base_url: str = "https://nhandan.vn"):
        from crawler.items import ExtractedArticle, Image

        return ExtractedArticle(
            site=self.outlet.id,
            external_id=str(self.article_id),
            url=self.url(base_url),
            title=self.title,
            body=self.body,
            sapo=self.sapo,
            author=self.author,
            published_at=self.published_at,
            modified_at=self.modified_at,
            category=self.categories,
            tags=self.tag_names,
            images=[Image(image.url, image.caption) for image in self.images],
        )


# ---------------------------------------------------------------- the model


class SiteModel:
    """All articles of the sample site plus the site's own clock (``now``).

    Only articles published at or before ``now`` are visible. The model is not
    thread-safe by itself; :class:`~crawler.samplesite.server.SampleSite` guards it.
    """

    def __init__(
        self, seed: int, per_day: int, first_day: date, outlet: Outlet = NDO, borrowed_ids: list[int] | None = None
    ):
        self.seed = seed
        self.per_day = per_day
        self.outlet = outlet
        # A sister outlet draws other articles from the same seed.
        self.rng = random.Random(seed if outlet is NDO else f"{outlet.id}:{seed}")
        # Article ids of another outlet's look-alike, reused for every third article here.
        self.borrowed_ids = borrowed_ids or []
        self.zones = [_zone for _zone in _build_zones(outlet)]
        self.zone_by_id = {zone.zone_id: zone for zone in self.zones}
        self.zone_by_slug = {zone.slug: zone for zone in self.zones}
        # Generation picks zones by NDO's slugs; a sister outlet serves them under its own.
        self.zone_by_key = {row[1]: zone for row, zone in zip(texts.ZONES, self.zones, strict=True)}
        self.tags = {name: Tag(20000 + 17 * index, name) for index, name in enumerate(texts.TAGS)}
        self.tag_by_id = {tag.tag_id: tag for tag in self.tags.values()}
        self.topics = [Topic(*row) for row in texts.TOPICS]
        self.articles: list[SampleArticle] = []
        self.by_id: dict[int, SampleArticle] = {}
        self.first_day = first_day
        self.last_day = first_day - timedelta(days=1)
        self.now = datetime.combine(first_day, time(0, 0), VIETNAM)
        self.version = 0
        self.robots_disallow = ["/admin/", "/preview/"]
        self._next_id = outlet.first_id + self.rng.randrange(0, 400)
        self._serial = 0

    # ------------------------------------------------------------ queries
    def article(self, article_id: int) -> SampleArticle:
        return self.by_id[article_id]

    def is_visible(self, article: SampleArticle) -> bool:
        return article.published_at <= self.now

    def visible(self) -> list[SampleArticle]:
        """Published articles, newest first."""
        return [a for a in reversed(self.articles) if a.published_at <= self.now]

    def in_zone(self, zone: Zone) -> list[SampleArticle]:
        return [a for a in self.visible() if a.zone is zone or a.zone.parent is zone]

    def with_tag(self, name: str) -> list[SampleArticle]:
        return [a for a in self.visible() if name in a.tag_names]

    def recent(self, hours: float = 48) -> list[SampleArticle]:
        since = self.now - timedelta(hours=hours)
        return [a for a in self.visible() if a.published_at >= since]

    def months(self) -> list[tuple[int, int]]:
        """(year, month) of every month with a visible article, newest first."""
        seen: dict[tuple[int, int], None] = {}
        for article in self.visible():
            seen.setdefault((article.published_at.year, article.published_at.month), None)
        return list(seen)

    def in_month(self, year: int, month: int) -> list[SampleArticle]:
        return [a for a in self.visible() if (a.published_at.year, a.published_at.month) == (year, month)]

    def search(self, query: str) -> list[SampleArticle]:
        """Accent-insensitive search on title and sapo; a quoted query is a phrase."""
        query = query.strip()
        phrase = len(query) > 1 and query[0] == query[-1] == '"'
        words = re.findall(r"[a-z0-9]+", fold(query))
        if not words:
            return []
        results = []
        for article in self.visible():
            haystack = re.findall(r"[a-z0-9]+", fold(article.title + " " + article.sapo))
            if phrase:
                hit = " " + " ".join(words) + " " in " " + " ".join(haystack) + " "
            else:
                present = set(haystack)
                hit = all(word in present for word in words)
            if hit:
                results.append(article)
        return results

    # ------------------------------------------------------------ changes
    def set_now(self, when: datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("now must be an aware datetime")
        self.now = when.astimezone(VIETNAM)
        self.version += 1

    def publish_next_day(self, count: int | None = None) -> list[SampleArticle]:
        """Generate the next calendar day's articles and move ``now`` past them."""
        day = self.last_day + timedelta(days=1)
        new = _generate_day(self, day, self.per_day if count is None else count)
        self.last_day = day
        if new:
            self.now = max(self.now, new[-1].published_at + timedelta(minutes=30))
        self.version += 1
        return new

    def drift(self, count: int | None = None) -> list[SampleArticle]:
        """The newest ``count`` visible articles (all when None) switch to the ``drifted`` layout."""
        changed = self.visible()[:count] if count is not None else self.visible()
        for article in changed:
            article.layout = "drifted"
            article.revision += 1  # a new rendering: cached pages are stale
        self.version += 1
        return changed

    def edit_article(
        self,
        article_id: int,
        *,
        title: str | None = None,
        sapo: str | None = None,
        paragraphs: list[str] | None = None,
        at: datetime | None = None,
    ) -> SampleArticle:
        """Change an article (by default: append an update paragraph) and bump its modified time."""
        article = self.by_id[article_id]
        modified = at.astimezone(VIETNAM) if at else max(self.now, article.modified_at + timedelta(minutes=1))
        if title is not None:
            article.title = unicodedata.normalize("NFC", title)
        if sapo is not None:
            article.sapo = unicodedata.normalize("NFC", sapo)
        if paragraphs is not None:
            article.paragraphs = [unicodedata.normalize("NFC", p) for p in paragraphs]
            article.notebox = None
            for image in article.images:
                image.after_paragraph = min(image.after_paragraph, len(article.paragraphs) - 1)
        if title is None and sapo is None and paragraphs is None:
            article.paragraphs.append(
                f"Cập nhật lúc {modified:%H:%M} ngày {modified:%d/%m/%Y}: cơ quan chức năng cho biết "
                f"sẽ tiếp tục thông tin về diễn biến mới."
            )
        article.modified_at = modified
        article.revision += 1
        self.now = max(self.now, modified)
        self.version += 1
        return article


def _build_zones(outlet: Outlet = NDO) -> list[Zone]:
    built: dict[int, Zone] = {}
    for zone_id, slug, name, parent_id, family in texts.ZONES:
        # Keyed by NDO's ids (the parents' references); the outlet's own id, slug and name are served.
        own_id, own_slug, own_name = outlet.zones.get(slug, (zone_id, slug, None))
        built[zone_id] = Zone(own_id, own_slug, own_name or name, built.get(parent_id) if parent_id else None, family)
    return list(built.values())


# ---------------------------------------------------------------- generation

_SLOT_RE = re.compile(r"\{(\w+)\}")


class _Filler:
    """Fills template slots; one instance per article so {tinh} stays the same place."""

    def __init__(self, rng: random.Random, day: date, province: str | None):
        self.rng = rng
        self.values = {
            "tinh": province or rng.choice(texts.PROVINCES),
            "nam": str(day.year),
            "thang": str(max(day.month, 2)),
            "ten": rng.choice(texts.PEOPLE),
            "dn": rng.choice(texts.COMPANIES),
            "nuoc": rng.choice(texts.COUNTRIES),
            "truong": rng.choice(texts.SCHOOLS),
            "bv": rng.choice(texts.HOSPITALS),
            "tacgia": rng.choice(texts.AUTHORS),
        }
        self.values["doi"], self.values["doi2"] = rng.sample(texts.CLUBS, 2)

    def _slot(self, match: re.Match) -> str:
        name = match.group(1)
        if name in self.values:
            return self.values[name]
        rng = self.rng
        if name == "so":
            return str(rng.randint(12, 980))
        if name == "so2":
            return str(rng.randint(2, 40))
        if name == "pt":
            return f"{rng.randint(2, 35)},{rng.randint(1, 9)}"
        if name == "ty":
            return f"{rng.randint(1, 950):,}".replace(",", ".")
        raise KeyError(name)

    def __call__(self, template: str) -> str:
        return _SLOT_RE.sub(self._slot, template)


class _OwnText:
    """An article's own sentences, from names it makes up and parts it draws with its own random stream.

    The family banks are small, so their sentences would make unrelated articles of two outlets look like
    copies of one story; these keep them apart while the banks still give each article its section's tone.
    """

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.places = [self._place() for _ in range(2)]
        self.hamlets = [self._place() for _ in range(2)]
        self.people = [self._person() for _ in range(2)]
        # A few parts of each list, not all: long articles would otherwise cover most of the lists' word runs.
        self.bodies = rng.sample(texts.OWN_BODIES, 2)
        self.actions = rng.sample(texts.OWN_ACTIONS, 3)
        self.things = rng.sample(texts.OWN_THINGS, 3)
        self.whens = rng.sample(texts.OWN_WHEN, 2)
        self.frames = rng.sample(texts.OWN_FRAMES, 3)

    def _name(self, syllables: int) -> str:
        return " ".join(self.rng.sample(texts.OWN_SYLLABLES, syllables))

    def _place(self) -> str:
        return f"{self.rng.choice(texts.OWN_PLACE_KINDS)} {self._name(2)}"

    def _person(self) -> str:
        return f"{self.rng.choice(texts.OWN_FAMILY_NAMES)} {self._name(2)}"

    def sentence(self) -> str:
        rng = self.rng
        values = {
            "place": rng.choice(self.places),
            "hamlet": rng.choice(self.hamlets),
            "person": rng.choice(self.people),
            "bodies": rng.choice(self.bodies),
            "action": rng.choice(self.actions),
            "action2": rng.choice(self.actions),
            "thing": rng.choice(self.things),
            "when": rng.choice(self.whens),
            "count": str(rng.randint(3, 870)),
            "money": f"{rng.randint(12, 990)} triệu",
        }
        values["when2"] = values["when"][0].upper() + values["when"][1:]
        text = rng.choice(self.frames).format(**values)
        return text[0].upper() + text[1:]


def _quota(seed: int, serial: int, block: int, name: str, k: int = 1) -> int:
    """Spread ``k`` marks over each block of ``block`` consecutive articles at seeded positions.

    Returns which mark (0..k-1) article number ``serial`` carries, or -1. Quotas
    rather than coin flips guarantee that even the small default site has every
    variant the tests and fixtures need.
    """
    start = serial - serial % block
    positions = random.Random(f"{seed}:{name}:{start}").sample(range(block), k)
    return positions.index(serial % block) if serial % block in positions else -1


def _themes_for_day(rng: random.Random, count: int) -> list[frozenset[str]]:
    slots: list[frozenset[str]] = []
    share = max(1, round(count * 0.12)) if count >= 3 else 0
    trap = max(1, round(count * 0.06)) if count >= 6 else 0
    slots += [frozenset({"cnht"})] * share
    slots += [frozenset({"quang-ninh"})] * share
    slots += [frozenset({"cnht-trap"})] * trap
    slots += [frozenset({"quang-nam"})] * trap
    if count >= 10 and rng.random() < 0.5:
        slots[0] = frozenset({"cnht", "quang-ninh"})
    slots = slots[:count] + [frozenset()] * max(0, count - len(slots))
    rng.shuffle(slots)
    return slots


_THEME_ZONES = {
    "cnht": ["kinhte", "kinhte", "thong-tin-hang-hoa", "khoahoc-congnghe"],
    "quang-ninh": ["du-lich", "kinhte", "moi-truong", "xahoi"],
    "quang-nam": ["du-lich", "xahoi", "vanhoa"],
    "cnht-trap": ["kinhte", "xahoi"],
}

_ZONE_WEIGHTS = {
    "chinhtri": 5,
    "xa-luan": 1,
    "xay-dung-dang": 3,
    "kinhte": 6,
    "chungkhoan": 2,
    "thong-tin-hang-hoa": 2,
    "xahoi": 5,
    "thethao": 4,
    "thegioi": 5,
    "vanhoa": 3,
    "du-lich": 3,
    "phapluat": 3,
    "khoahoc-congnghe": 3,
    "moi-truong": 3,
    "giaoduc": 3,
    "y-te": 3,
    "bandoc": 1,
}


def _generate_day(model: SiteModel, day: date, count: int) -> list[SampleArticle]:
    rng = model.rng
    if count <= 0:
        return []
    themes = _themes_for_day(rng, count)
    # Publication times spread between 05:00 and 22:30, strictly increasing.
    minutes = sorted(rng.sample(range(5 * 60, 22 * 60 + 30), count))
    zone_slugs = list(_ZONE_WEIGHTS)
    weights = list(_ZONE_WEIGHTS.values())
    new: list[SampleArticle] = []
    for index in range(count):
        theme = themes[index]
        published = datetime.combine(day, time(minutes[index] // 60, minutes[index] % 60), VIETNAM)
        if theme:
            key = "cnht" if "cnht" in theme else next(iter(theme))
            zone = model.zone_by_key[rng.choice(_THEME_ZONES[key])]
        else:
            zone = model.zone_by_key[rng.choices(zone_slugs, weights)[0]]
        model._next_id += rng.randint(3, 41)
        article_id = model._next_id
        if model._serial % 3 == 0 and model._serial < len(model.borrowed_ids):
            article_id = model.borrowed_ids[model._serial]
        while article_id in model.by_id:
            article_id += 1
        article = _make_article(model, article_id, zone, published, theme, model._serial)
        model._serial += 1
        model.articles.append(article)
        model.by_id[article.article_id] = article
        new.append(article)
    return new


def _pick(rng: random.Random, pool: list[str], k: int) -> list[str]:
    k = min(k, len(pool))
    return rng.sample(pool, k)


def _make_article(
    model: SiteModel, article_id: int, zone: Zone, published: datetime, theme: frozenset[str], serial: int
) -> SampleArticle:
    rng = model.rng
    outlet = model.outlet
    province = "Quảng Ninh" if "quang-ninh" in theme else ("Quảng Nam" if "quang-nam" in theme else None)
    fill = _Filler(rng, published.date(), province)
    titles, sapos, sentences = texts.POOLS[zone.family]
    sentences = list(sentences)
    extra: list[str] = []
    # The first themed sentence of each theme, and a trap, stay in the body; the others give way to the
    # article's own (below), so that two reports of a theme do not read as copies of one story.
    kept: set[int] = set()
    if "cnht" in theme:
        titles, sapos, cnht_sentences = texts.CNHT
        kept.add(len(extra))
        extra += _pick(rng, cnht_sentences, 3)
    if "quang-ninh" in theme:
        q_titles, q_sapos, q_sentences = texts.QUANG_NINH
        if "cnht" not in theme:
            titles, sapos = q_titles, q_sapos
        kept.add(len(extra))
        extra += _pick(rng, q_sentences, 3)
    if "quang-nam" in theme:
        titles, sapos, qn_sentences = texts.QUANG_NAM
        kept.add(len(extra))
        extra += _pick(rng, qn_sentences, 3)
    if "cnht-trap" in theme:
        kept.add(len(extra))
        extra.append(rng.choice(texts.CNHT_TRAP))

    video = _quota(model.seed, serial, 10, "video") == 0 and not theme
    title = fill(rng.choice(titles))
    sapo = fill(rng.choice(sapos))
    sapo_prefix = ""
    if rng.random() < (0.3 if outlet.sapo_prefix_in_truth else 0.6) and outlet.sapo_prefixes:
        prefix = outlet.sapo_prefixes[serial % len(outlet.sapo_prefixes)]
        if outlet.sapo_prefix_in_truth:
            sapo = prefix + sapo
        else:
            sapo_prefix = prefix

    n_paragraphs = rng.randint(1, 3) if video else rng.randint(4, 9)
    pool = _pick(rng, sentences, len(sentences)) + _pick(rng, texts.GENERIC, 4)
    rng.shuffle(pool)
    # Themed sentences go into the first paragraphs so short articles still carry them.
    ordered = extra + pool
    # Its own stream: the site's stream draws as before, so ids, bylines, images and tags stay where they were.
    own = _OwnText(random.Random(f"{outlet.id}:{model.seed}:{article_id}:{serial}"))
    paragraphs: list[str] = []
    cursor = 0
    for _ in range(n_paragraphs):
        size = rng.randint(2, 3)
        chunk = ordered[cursor : cursor + size] or [rng.choice(texts.GENERIC)]
        # The kept themed sentences stay (the topics match on them), each followed by one of the article's own;
        # every other sentence is the article's own. Every template is still filled, so the site's stream draws
        # as before.
        filled = [fill(template) for template in chunk]
        paragraphs.append(
            " ".join(
                f"{text} {own.sentence()}" if cursor + offset in kept else own.sentence()
                for offset, text in enumerate(filled)
            )
        )
        cursor += size

    notebox = None
    if not video and rng.random() < 0.25:
        # The box holds the article's own sentences too (its bank is four sentences); filled for the stream's sake.
        note = [fill(s) and own.sentence() for s in _pick(rng, texts.NOTEBOX, rng.randint(1, 2))]
        start = len(paragraphs) if rng.random() < 0.6 else rng.randint(1, len(paragraphs) - 1)
        paragraphs[start:start] = note
        notebox = (start, start + len(note))

    mark = _quota(model.seed, serial, 25, "quirk", 3)
    quirk = ("nfd", "eth", "legacy-tone")[mark] if mark >= 0 else ""
    if quirk == "eth" and "Đ" not in title + sapo + "".join(paragraphs):
        paragraphs[-1] += " " + texts.WITH_D
    if quirk == "legacy-tone":
        changed = [legacy_tone(p) for p in paragraphs]
        if changed == paragraphs:
            paragraphs[-1] += " " + texts.WITH_LEGACY_TONE
        title, sapo = legacy_tone(title), legacy_tone(sapo)
        paragraphs = [legacy_tone(p) for p in paragraphs]

    images: list[SampleImage] = []
    n_images = rng.choice([0, 1]) if video else rng.choices([0, 1, 2, 3, 4], [2, 4, 3, 2, 1])[0]
    folder = rng.choice(["igpcvpjwpi", "ohdpbwbvjo", "xpcqzupuq", "lqdqkxrwok"])
    for number in range(n_images):
        caption = fill(rng.choice(texts.CAPTIONS))
        if quirk == "legacy-tone":
            caption = legacy_tone(caption)
        stamp = f"{published:%Y_%m_%d}"
        name = f"{slugify(title, 5)}-{article_id % 10000:04d}{number + 1}{rng.randrange(100, 999)}.jpg"
        url = outlet.image_format.format(
            host=outlet.image_host,
            year=f"{published:%Y}",
            month=f"{published:%m}",
            folder=folder,
            stamp=stamp,
            name=name,
        )
        after = min(len(paragraphs) - 1, number * 2)
        images.append(SampleImage(url, caption, after))

    roll = rng.random()
    name = rng.choice(texts.AUTHORS)
    if roll < 0.1:
        author, author_line = "", outlet.paper_online
    elif roll < 0.32:
        author, author_line = name, f"Bài và ảnh: {name}"
    elif roll < 0.38:
        author, author_line = name, f"Tin và ảnh: {name}"
    else:
        author, author_line = name, name
    if outlet.byline_suffix and author and rng.random() < 0.5:
        author_line = name + outlet.byline_suffix

    tag_names = _pick(rng, texts.FAMILY_TAGS[zone.family], rng.randint(1, 3))
    if "cnht" in theme:
        tag_names = ["Công nghiệp hỗ trợ", "Chuỗi cung ứng"] + tag_names
    if "quang-ninh" in theme:
        tag_names = ["Quảng Ninh"] + (["Vịnh Hạ Long"] if rng.random() < 0.5 else []) + tag_names
    if "quang-nam" in theme:
        tag_names = ["Quảng Nam", "Hội An"] + tag_names
    if "cnht-trap" in theme:
        tag_names = ["Công nghiệp"] + tag_names
    tags = [model.tags[n] for n in dict.fromkeys(tag_names)][:5]

    earlier = [a.article_id for a in model.articles[-40:]]
    related = (
        rng.sample(earlier, min(len(earlier), rng.randint(2, 3)))
        if earlier and _quota(model.seed, serial, 6, "related") == 0
        else []
    )

    modified = published + timedelta(minutes=rng.choice([0, 0, 0, 5, 12, 40]))
    slug = slugify(title)
    if video:
        slug = "video-" + slug
    return SampleArticle(
        article_id=article_id,
        slug=slug,
        title=title,
        sapo=sapo,
        paragraphs=paragraphs,
        author=author,
        author_line=author_line,
        zone=zone,
        tags=tags,
        images=images,
        published_at=published,
        modified_at=modified,
        video=video,
        related_ids=related,
        notebox=notebox,
        quirk=quirk,
        layout="legacy-pictures" if images and _quota(model.seed, serial, 25, "legacy") == 0 else "standard",
        jsonld_in_list=_quota(model.seed, serial, 5, "jsonld") == 0,
        themes=theme,
        outlet=outlet,
        sapo_prefix=sapo_prefix,
    )


def generate_site(
    seed: int = 0,
    days: int = 5,
    per_day: int = 14,
    end_date: date | None = None,
    *,
    drifted: int = 0,
    outlet: str | Outlet = NDO,
) -> SiteModel:
    """Build a deterministic sample site of ``days * per_day`` articles ending on ``end_date``.

    ``end_date`` defaults to today in Vietnam (the only wall-clock read). The
    site's ``now`` ends up 30 minutes after the last publication. ``drifted``
    articles (the newest ones first) use a layout without the site's selectors,
    so only JSON-LD/meta and generic extraction can read them.

    A few stories of each day run on two or three of the outlets (``crawler/samplesite/wire.py``): each
    outlet's model, alone or beside the others, holds its part of them. Days published later
    (``publish_next_day``) are the outlet's own, as borrowed ids are.
    """
    if days < 1 or per_day < 1:
        raise ValueError("days and per_day must be at least 1")
    if end_date is None:
        end_date = utcnow().astimezone(VIETNAM).date()
    outlet = get_outlet(outlet) if isinstance(outlet, str) else outlet
    model = _plain_site(seed, days, per_day, end_date, outlet)
    if outlet.id in OUTLETS:
        _republish(model, days, end_date)
    for article in model.articles[::-1][:drifted]:
        article.layout = "drifted"
    model.version = 0
    return model


def _plain_site(seed: int, days: int, per_day: int, end_date: date, outlet: Outlet) -> SiteModel:
    """The outlet's own articles, before any of them gives way to another outlet's story."""
    borrowed = None
    if outlet.borrow_ids_from:
        # The other outlet's look-alike of the same seed and days: the same numbers, other articles.
        borrowed = [
            article.article_id for article in _plain_articles(seed, days, per_day, end_date, outlet.borrow_ids_from)
        ]
    model = SiteModel(seed, per_day, end_date - timedelta(days=days - 1), outlet, borrowed)
    for _ in range(days):
        model.publish_next_day()
    return model


# Every outlet's model reads every other outlet's articles (borrowed ids, the wire plan): generated once.
# Read only: a model of its own is generated afresh for each site.
@lru_cache(maxsize=16)
def _plain_articles(seed: int, days: int, per_day: int, end_date: date, outlet_id: str) -> tuple[SampleArticle, ...]:
    return tuple(_plain_site(seed, days, per_day, end_date, get_outlet(outlet_id)).articles)


@lru_cache(maxsize=4)
def _wire_plan(seed: int, days: int, per_day: int, end_date: date) -> tuple[wire.WireGroup, ...]:
    articles = {outlet_id: _plain_articles(seed, days, per_day, end_date, outlet_id) for outlet_id in OUTLETS}
    return tuple(wire.plan(seed, articles))


def _republish(model: SiteModel, days: int, end_date: date) -> None:
    """Mark the model's originals and put the other outlets' stories in place of its copies' own text."""
    seed, per_day = model.seed, model.per_day
    for group in _wire_plan(seed, days, per_day, end_date):
        origin_outlet, origin_id = group.origin
        if origin_outlet == model.outlet.id:
            model.by_id[origin_id].wire = group.origin
        for copy_outlet, copy_id in group.copies:
            if copy_outlet != model.outlet.id:
                continue
            origins = _plain_articles(seed, days, per_day, end_date, origin_outlet)
            origin = next(article for article in origins if article.article_id == origin_id)
            slot = model.by_id[copy_id]
            # The slot keeps its id, URL (its slug too, as an edited headline often does), times, section,
            # tags and images: only its text is the other outlet's story.
            for name, value in wire.derive(origin, slot, model.seed).items():
                setattr(slot, name, value)
            for image in slot.images:
                image.after_paragraph = min(image.after_paragraph, len(slot.paragraphs) - 1)
            slot.wire = group.origin

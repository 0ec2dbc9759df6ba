"""Write representative sample pages and their ground truth to disk (page-object fixtures)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

from crawler.samplesite import render
from crawler.samplesite.model import SampleArticle, SiteModel, generate_site
from crawler.samplesite.outlets import NDO, get_outlet
from crawler.samplesite.server import SampleSite

FIXTURE_END_DATE = date(2026, 8, 8)

# file name -> what the article must show; the first article passing the test is used.
_ARTICLE_PICKS: list[tuple[str, Callable[[SampleArticle], bool]]] = [
    (
        "article-normal.html",
        lambda a: (
            a.layout == "standard"
            and not a.quirk
            and not a.video
            and not a.related_ids
            and len(a.images) >= 2
            and a.author_line.startswith("Bài và ảnh")
        ),
    ),
    (
        "article-notebox.html",
        lambda a: a.layout == "standard" and not a.quirk and a.notebox is not None and a.notebox[1] < len(a.paragraphs),
    ),
    ("article-video.html", lambda a: a.video and a.layout == "standard"),
    ("article-related.html", lambda a: bool(a.related_ids) and a.layout == "standard" and not a.quirk),
    ("article-nfd.html", lambda a: a.quirk == "nfd"),
    ("article-eth.html", lambda a: a.quirk == "eth"),
    ("article-legacy-tone.html", lambda a: a.quirk == "legacy-tone"),
    ("article-legacy-pictures.html", lambda a: a.layout == "legacy-pictures"),
    ("article-jsonld-list.html", lambda a: a.jsonld_in_list and a.layout == "standard" and not a.quirk),
    ("article-paper-author.html", lambda a: a.author == "" and a.layout == "standard"),
    ("article-cnht.html", lambda a: "cnht" in a.themes and a.layout == "standard"),
    ("article-drifted.html", lambda a: a.layout == "standard" and not a.quirk and bool(a.images) and not a.video),
    # The sister outlets' own traps (no NDO article has them).
    ("article-sapo-prefix.html", lambda a: bool(a.sapo_prefix) and a.layout == "standard" and not a.quirk),
    (
        "article-byline-suffix.html",
        lambda a: (
            bool(a.outlet.byline_suffix)
            and a.outlet.byline_suffix in a.author_line
            and a.layout == "standard"
            and not a.quirk
        ),
    ),
    (
        "article-body-footer.html",
        lambda a: (
            bool(a.outlet.body_footer)
            and a.article_id % 3 != 0
            and a.layout == "standard"
            and not a.quirk
            and not a.related_ids
        ),
    ),
]

_LISTINGS = [
    ("tin-moi.html", "/tin-moi.html"),
    ("api-morenews-latest-0-0.json", "/api/morenews-latest-0-0.html?phrase="),
    ("api-morenews-latest-0-1.json", "/api/morenews-latest-0-1.html?phrase="),
    ("api-morenews-zone-1185-0.json", "/api/morenews-zone-1185-0.html?phrase="),
    ("category-kinhte.html", "/kinhte"),
    ("rss-home.rss", "/rss/home.rss"),
    ("rss-kinhte-1185.rss", "/rss/kinhte-1185.rss"),
    ("rss.html", "/rss.html"),
    ("sitemap.xml", "/sitemap.xml"),
    ("google-news.xml", "/sitemaps/google-news.xml"),
    ("search-cong-nghiep-ho-tro.html", "/tim-kiem/?q=c%C3%B4ng%20nghi%E1%BB%87p%20h%E1%BB%97%20tr%E1%BB%A3"),
    ("robots.txt", "/robots.txt"),
]


def _sister_listings(model: SiteModel) -> list[tuple[str, str]]:
    """A sister outlet's feeds, sitemaps and "load more" pages (it has no latest-news page or search)."""
    economy = model.zone_by_key["kinhte"]
    listings = [
        ("rss-home.rss", "/rss/home.rss"),
        (f"rss-{economy.slug}-{economy.zone_id}.rss", economy.rss_path),
        (f"category-{economy.slug}.html", economy.path),
        ("sitemap.xml", "/sitemap.xml"),
        ("google-news.xml", "/sitemaps/google-news.xml"),
        ("robots.txt", "/robots.txt"),
    ]
    if model.outlet.more_api == "contents":
        listings += [
            (
                f"api-morenews-zone-{economy.zone_id}-{page}.json",
                f"/api/morenews-zone-{economy.zone_id}-{page}.html?phrase=&page_size=20&sz={economy.zone_id}&st=zone",
            )
            for page in (0, 1)
        ]
    return listings


def _own_cms_listings(model: SiteModel) -> list[tuple[str, str]]:
    """Báo Quảng Ninh's feed index, two of its category feeds, its live-TV feed and robots.txt."""
    from crawler.samplesite.quangninh import TV_FEED, feed_path

    economy, mining = model.zone_by_key["kinhte"], model.zone_by_key["thong-tin-hang-hoa"]
    return [
        ("rss.html", "/rss"),
        (f"rss-{economy.slug}.rss", feed_path(economy)),
        (f"rss-{mining.slug}.rss", feed_path(mining)),
        (f"rss-{TV_FEED}.rss", f"/rss/news/{TV_FEED}.rss"),
        (f"category-{economy.slug}.html", economy.path),
        ("robots.txt", "/robots.txt"),
    ]


def save_fixtures(
    directory: str | Path,
    *,
    seed: int = 0,
    end_date: date = FIXTURE_END_DATE,
    base_url: str | None = None,
    model: SiteModel | None = None,
    site: str = NDO.id,
) -> dict:
    """Write article pages, listings, feeds and ``expected.json``; return the expected data.

    Pages are rendered as served from ``base_url`` (the real site's origin by
    default), so the fixtures look like pages saved from the outlet (``site``).
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    outlet = model.outlet if model is not None else get_outlet(site)
    base_url = base_url or outlet.base_url
    model = model or generate_site(seed=seed, end_date=end_date, outlet=outlet)
    sample = SampleSite(model, cache=False)
    sample.base_url = base_url.rstrip("/")
    used: set[int] = set()
    pages: dict[str, dict] = {}
    for name, wanted in _ARTICLE_PICKS:
        article = next((a for a in model.articles if a.article_id not in used and wanted(a)), None)
        if article is None or (name == "article-legacy-pictures.html" and outlet.cms != "vendor"):
            continue  # legacy picture tables are the vendor CMS's
        used.add(article.article_id)
        if name == "article-drifted.html":
            article.layout = "drifted"
        response = sample.respond(article.path, accept_gzip=False)
        (out / name).write_bytes(response.body)
        pages[name] = {
            "kind": "article",
            "url": article.url(sample.base_url),
            "expected": article.expected(sample.base_url),
            "features": {
                "quirk": article.quirk,
                "layout": article.layout,
                "video": article.video,
                "related_news": bool(article.related_ids),
                "notebox": article.notebox is not None,
                "jsonld_in_list": article.jsonld_in_list,
                "author_line": article.author_line,
                "themes": sorted(article.themes),
            },
        }
    months = model.months() if outlet.cms == "vendor" else []
    if outlet.cms == "baoquangninh":
        listings = _own_cms_listings(model)
    else:
        listings = list(_LISTINGS) if outlet is NDO else _sister_listings(model)
    if months:
        year, month = months[-1]
        name = render.monthly_sitemap_name(model, year, month)
        listings.append((name, f"/sitemaps/{name}"))
    for name, path in listings:
        response = sample.respond(path, accept_gzip=False)
        (out / name).write_bytes(response.body)
        pages[name] = {"kind": "listing", "url": sample.base_url + path, "content_type": response.content_type}
    expected = {
        "site": outlet.id,
        "base_url": sample.base_url,
        "seed": model.seed,
        "now": model.now.isoformat(),
        "pages": pages,
        "articles": [a.expected(sample.base_url) for a in model.visible()],
    }
    (out / "expected.json").write_text(json.dumps(expected, ensure_ascii=False, indent=2) + "\n", "utf-8")
    return expected

"""The Báo Quảng Ninh look-alike: its own CMS's pages and routes (``Outlet.cms == "baoquangninh"``).

The team's map has no verified article markup for baoquangninh.vn, only its URL shape
(``/<slug>-<7 digits>.html``), its per-category feeds (``/rss/news/<slug>.rss``, listed on
``/rss``), its image host and the sections a working cleaner cuts the body at ("Từ khóa",
"Tin liên quan", "Ý kiến bạn đọc", with a bold author signature last). The markup here is
therefore a plausible in-house CMS, built to carry those facts and their traps: structured data
and meta tags that serve most fields, the cut sections inside the content block, ads with
``/ads-tracking`` links inside the body, lazy images, a visible date without a zone, ids shared
with VietnamPlus, feed links with tracking queries, a feed of live-TV pages that are no articles,
and a ``/rss/home.rss`` that does not exist. ``drifted`` articles rename every class.
"""

from __future__ import annotations

import re
from email.utils import format_datetime
from html import escape
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape as xml_escape

from crawler.samplesite.model import SampleArticle, SiteModel, Zone
from crawler.samplesite.render import PLACEHOLDER, _e, _json_script, list_date

if TYPE_CHECKING:
    from crawler.samplesite.server import Response, SampleSite

ARTICLE_PATH = re.compile(r"^/([a-z0-9-]+)-(\d{7})\.html$")
_FEED = re.compile(r"^/rss/news/([A-Za-z0-9-]+)\.rss$")
# A feed the index lists whose items are live-TV pages (``/truyen-hinh/...``): none is an article.
TV_FEED = "truyen-hinh"
FEED_SIZE = 30


def feed_path(zone: Zone) -> str:
    return f"/rss/news/{zone.slug}.rss"


# ---------------------------------------------------------------- article page


def _head(model: SiteModel, article: SampleArticle, base: str) -> str:
    outlet = model.outlet
    url = base + article.path
    title = article.served(article.title)
    sapo = article.served_sapo()
    image = article.images[0].url if article.images else f"{outlet.static}/images/no-image.jpg"
    news = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "mainEntityOfPage": {"@type": "WebPage", "@id": url},
        "headline": title,
        "description": sapo,
        "image": [image],
        "datePublished": article.published_at.isoformat(),
        "dateModified": article.modified_at.isoformat(),
        # The paper signs as an organisation; the journalist's name is the body's bold last line.
        "author": {"@type": "Organization", "name": outlet.paper},
        "publisher": {
            "@type": "Organization",
            "name": outlet.paper,
            "logo": {"@type": "ImageObject", "url": f"{outlet.static}/images/logo.png"},
        },
        "keywords": article.tag_names,
    }
    crumbs = {
        "@context": "https://schema.org",
        "@type": "BreadcrumbList",
        "itemListElement": [{"@type": "ListItem", "position": 1, "name": "Trang chủ", "item": base + "/"}]
        + [
            {"@type": "ListItem", "position": n + 2, "name": zone.name, "item": base + zone.path}
            for n, zone in enumerate(article.zone.chain)
        ],
    }
    if article.jsonld_in_list:
        jsonld = f'<script type="application/ld+json">{_json_script({"@graph": [news, crumbs]})}</script>\n'
    else:
        jsonld = (
            f'<script type="application/ld+json">{_json_script(news)}</script>\n'
            f'<script type="application/ld+json">{_json_script(crumbs)}</script>\n'
        )
    sections = "".join(f'<meta property="article:section" content="{_e(zone.name)}">\n' for zone in article.zone.chain)
    return (
        '<!DOCTYPE html>\n<html lang="vi">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{_e(title)} - {_e(outlet.paper_online)}</title>\n"
        f'<meta name="description" content="{_e(sapo)}">\n'
        f'<meta name="keywords" content="{_e(", ".join(article.tag_names))}">\n'
        '<meta name="author" content="baoquangninh.vn">\n'
        f'<link rel="canonical" href="{url}">\n'
        f'<meta property="og:url" content="{url}">\n'
        f'<meta property="og:title" content="{_e(title)} - {_e(outlet.paper_online)}">\n'
        f'<meta property="og:description" content="{_e(sapo)}">\n'
        f'<meta property="og:image" content="{image}">\n'
        '<meta property="og:type" content="article">\n'
        f'<meta property="article:published_time" content="{article.published_at.isoformat()}">\n'
        f'<meta property="article:modified_time" content="{article.modified_at.isoformat()}">\n'
        f"{sections}{jsonld}"
        f'<link rel="stylesheet" href="{outlet.static}/css/style.min.css?v=20260801">\n'
        "</head>\n"
    )


def _header(model: SiteModel, base: str) -> str:
    menu = "".join(
        f'<li><a href="{base}{zone.path}">{_e(zone.name)}</a></li>' for zone in model.zones if zone.parent is None
    )
    return (
        '<header class="header"><div class="container">'
        f'<a class="logo" href="{base}/"><img src="{model.outlet.static}/images/logo.png" '
        f'alt="{_e(model.outlet.paper)}"></a>'
        f'<nav class="main-nav"><ul>{menu}<li><a href="{base}/truyen-hinh">Truyền hình</a></li></ul></nav>'
        "</div></header>\n" + _ads(37, "top")
    )


def _ads(zone: int, name: str) -> str:
    return (
        f'<div class="ads-zone-group" id="ads-zone-{zone}"><div class="ads-block-item">'
        f'<a href="/ads-tracking?aid={zone}{len(name)}" target="_blank">'
        f'<img src="https://media.baoquangninh.vn/upload/ads/{name}.jpg" alt="Quảng cáo"></a>'
        '<span class="ads-label">Quảng cáo</span></div></div>\n'
    )


def _footer(model: SiteModel) -> str:
    lines = "".join(f"<p>{_e(line)}</p>" for line in model.outlet.footer_lines)
    return (
        f'<footer class="footer"><div class="container">{lines}</div></footer>\n'
        f'<script src="{model.outlet.static}/js/app.min.js" defer></script>\n</body>\n</html>\n'
    )


def _figure(article: SampleArticle, number: int, drifted: bool) -> str:
    image = article.images[number]
    caption = _e(article.served(image.caption))
    if drifted:
        return (
            f'<figure class="story-photo"><img src="{image.url}" alt="">'
            f'<figcaption class="story-photo__caption">{caption}</figcaption></figure>'
        )
    cap = f"<figcaption>{caption}</figcaption>" if caption else ""
    return (
        f'<figure class="image"><img class="lazy" src="{PLACEHOLDER}" data-src="{image.url}" '
        f'alt="{_e(article.served(article.title))}">{cap}</figure>'
    )


def _text_blocks(article: SampleArticle, drifted: bool) -> list[str]:
    out: list[str] = []
    if article.video:
        out.append(
            f'<div class="video-player"><video preload="none" poster="{article.thumb_url}" '
            f'data-src="{article.outlet.video_host}/upload/video/{article.article_id}.mp4"></video>'
            '<div class="video-controls"><button type="button">Phát</button>'
            '<span class="video-time">00:00 / 02:24</span></div></div>'
        )
    by_paragraph: dict[int, list[int]] = {}
    for number, image in enumerate(article.images):
        by_paragraph.setdefault(image.after_paragraph, []).append(number)
    start, end = article.notebox or (-1, -1)
    for index, text in enumerate(article.paragraphs):
        if index == start:
            out.append('<div class="note-box">')
        out.append(f"<p>{_e(article.served(text))}</p>")
        if index == end - 1:
            out.append("</div>")
        if not start <= index < end - 1:
            out.extend(_figure(article, number, drifted) for number in by_paragraph.pop(index, []))
        if index == 0 and not drifted:
            out.append(_ads(52, "in-article"))
    for numbers in by_paragraph.values():
        out.extend(_figure(article, number, drifted) for number in numbers)
    # The signature: the byline as the paper prints it, bold, right-aligned, last.
    out.append(f'<p style="text-align: right;"><strong>{_e(article.served(article.author_line))}</strong></p>')
    return out


def _after_body(model: SiteModel, article: SampleArticle, base: str, related: list[SampleArticle]) -> str:
    """What follows the text inside the content block: keywords, related news, readers' comments."""
    tags = "".join(f'<a class="tag-item" href="{base}/tag/{tag.tag_id}">{_e(tag.name)}</a>' for tag in article.tags)
    cards = "".join(
        f'<article class="card"><a href="{base}{other.path}"><img src="{other.thumb_url}" alt=""></a>'
        f'<div class="card-content"><a href="{base}{other.path}">{_e(other.served(other.title))}</a></div>'
        "</article>"
        for other in related
    )
    comment = ""
    if article.article_id % 2 == 0:
        comment = (
            '<div class="comment-item"><span class="comment-name">Bạn đọc Hạ Long</span>'
            "<p>Bài viết rất hay, mong báo tiếp tục thông tin.</p></div>"
        )
    return (
        f'<div class="box-tags"><h3 class="box-title">Từ khóa</h3><div class="tags">{tags}</div></div>\n'
        f'<div class="box-related"><h3 class="box-title">Tin liên quan</h3>{cards}</div>\n'
        '<div class="box-comment"><h3 class="box-title">Ý kiến bạn đọc</h3>'
        f'{comment}<form class="comment-form"><textarea name="content"></textarea>'
        '<button type="submit">Gửi bình luận</button></form></div>\n'
    )


def article_page(
    model: SiteModel, article: SampleArticle, base: str, same_zone: list[SampleArticle], most_read: list[SampleArticle]
) -> str:
    related = [model.by_id[i] for i in article.related_ids if i in model.by_id]
    related = related or [other for other in same_zone if other is not article][:3]
    drifted = article.layout == "drifted"
    crumbs = "".join(f'<a href="{base}{zone.path}">{_e(zone.name)}</a>' for zone in article.zone.chain)
    blocks = "\n".join(_text_blocks(article, drifted))
    after = _after_body(model, article, base, related)
    title = _e(article.served(article.title))
    sapo = _e(article.served_sapo())
    when = list_date(article.published_at)
    if drifted:
        main = (
            f'<nav class="story-path"><a href="{base}/">Trang chủ</a>{crumbs}</nav>\n'
            f'<div class="story-detail" data-story="{article.article_id}">\n'
            f'<h1 class="story-headline">{title}</h1>\n<span class="story-time">{when}</span>\n'
            f'<div class="story-lead">{sapo}</div>\n<div class="story-body">\n{blocks}\n</div>\n{after}</div>\n'
        )
    else:
        main = (
            f'<div class="breadcrumb"><a href="{base}/">Trang chủ</a>{crumbs}</div>\n'
            f'<article class="article-detail" data-id="{article.article_id}">\n'
            f'<h1 class="article-title">{title}</h1>\n'
            f'<div class="article-meta"><span class="article-date">{when}</span>'
            f'<span class="article-views">{article.article_id % 900 + 100} lượt xem</span></div>\n'
            f'<div class="article-sapo">{sapo}</div>\n'
            f'<div class="article-content">\n{blocks}\n{after}</div>\n</article>\n'
        )
    popular = "".join(
        f'<article class="card"><div class="card-content"><a href="{base}{other.path}">'
        f"{_e(other.served(other.title))}</a></div></article>"
        for other in most_read[:5]
    )
    return (
        _head(model, article, base)
        + '<body class="detail-page">\n'
        + _header(model, base)
        + f'<main class="main"><div class="container"><div class="col-main">\n{main}</div>\n'
        + f'<aside class="col-side"><h2>Đọc nhiều</h2>{popular}{_ads(41, "right")}</aside></div></main>\n'
        + _footer(model)
    )


# ---------------------------------------------------------------- feeds and pages


def rss(model: SiteModel, base: str, title: str, self_path: str, articles: list[SampleArticle]) -> str:
    items = []
    for n, a in enumerate(articles):
        url = base + a.path
        # Feed links carry tracking queries on some items: the article is the path.
        link = url + ("?utm_source=rss&utm_medium=feed" if n % 3 == 1 else "")
        description = (
            f'<a href="{url}"><img src="{a.thumb_url}" /></a>{escape(a.served_sapo(), quote=False)}'
        ).replace("]]>", "]]&gt;")
        items.append(
            f"<item><title><![CDATA[{a.served(a.title)}]]></title><link>{xml_escape(link)}</link>"
            f"<description><![CDATA[{description}]]></description>"
            f"<pubDate>{format_datetime(a.published_at)}</pubDate><guid>{url}</guid></item>\n"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0">\n<channel>\n'
        f"<title>{xml_escape(title)}</title><link>{base}{self_path}</link>"
        f"<description>{xml_escape(model.outlet.rss_description)}</description><language>vi</language>\n"
        f"{''.join(items)}</channel>\n</rss>\n"
    )


def tv_feed(model: SiteModel, base: str) -> str:
    items = "".join(
        f"<item><title>Bản tin thời sự {day:%d/%m/%Y}</title>"
        f"<link>{base}/truyen-hinh/ban-tin-thoi-su-{day:%d-%m-%Y}-{3300000 + n}.html</link>"
        f"<pubDate>{format_datetime(model.now)}</pubDate></item>\n"
        for n, day in enumerate(sorted({a.published_at.date() for a in model.visible()}, reverse=True))
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0">\n<channel>\n'
        f"<title>{xml_escape(model.outlet.paper)} - Truyền hình</title><link>{base}/truyen-hinh</link>\n"
        f"{items}</channel>\n</rss>\n"
    )


def rss_index(model: SiteModel, base: str) -> str:
    rows = "".join(f'<li><a href="{base}{feed_path(zone)}">{_e(zone.name)}</a></li>' for zone in model.zones)
    rows += f'<li><a href="/rss/news/{TV_FEED}.rss">Truyền hình</a></li>'
    return (
        f'<!DOCTYPE html>\n<html lang="vi"><head><meta charset="utf-8"><title>RSS - '
        f"{_e(model.outlet.paper_online)}</title></head><body>{_header(model, base)}"
        f'<main class="main"><h1>RSS</h1><ul class="rss-list">{rows}</ul></main>{_footer(model)}'
    )


def category_page(model: SiteModel, base: str, zone: Zone, articles: list[SampleArticle]) -> str:
    cards = "".join(
        f'<article class="card"><a href="{base}{a.path}"><img src="{a.thumb_url}" alt=""></a>'
        f'<div class="card-content"><h3><a href="{base}{a.path}">{_e(a.served(a.title))}</a></h3>'
        f"<p>{_e(a.served_sapo())}</p></div></article>"
        for a in articles
    )
    return (
        f'<!DOCTYPE html>\n<html lang="vi"><head><meta charset="utf-8"><title>{_e(zone.name)} - '
        f"{_e(model.outlet.paper_online)}</title></head><body>{_header(model, base)}"
        f'<main class="main"><h1>{_e(zone.name)}</h1>{cards}</main>{_footer(model)}'
    )


def robots() -> str:
    # The live robots.txt and sitemaps are unknown (the map says "probe live"): none is declared here.
    return (
        "User-agent: *\nDisallow: /users/\nDisallow: /intro\nDisallow: /thong-tin-quang-cao\n"
        "Disallow: /ads-tracking\nAllow: /\n"
    )


def route(site: SampleSite, path: str) -> Response:
    """Every page of the look-alike but the articles (``SampleSite`` serves those)."""
    from crawler.samplesite.server import HTML, RSS, TEXT, Response

    model, base = site.model, site.base_url
    if path == "/robots.txt":
        return Response(200, TEXT, robots().encode())
    if path in ("/rss", "/rss/"):
        return Response(200, HTML, rss_index(model, base).encode())
    match = _FEED.match(path)
    if match:
        slug = match.group(1)
        if slug == TV_FEED:
            return Response(200, RSS, tv_feed(model, base).encode())
        zone = model.zone_by_slug.get(slug)
        if zone is None:
            return site._not_found()
        body = rss(model, base, f"{model.outlet.paper} - {zone.name}", path, site._zone_lists[zone.zone_id][:FEED_SIZE])
        return Response(200, RSS, body.encode())
    zone = model.zone_by_slug.get(path.strip("/")) if path.count("/") == 1 else None
    if zone is not None:
        return Response(200, HTML, category_page(model, base, zone, site._zone_lists[zone.zone_id][:20]).encode())
    # No /rss/home.rss, no /sitemap.xml: the map only guesses them.
    return site._not_found()

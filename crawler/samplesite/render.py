"""HTML, XML and JSON of the sample site, in nhandan.vn's 2022+ CMS markup (and its sister outlets').

Plain string building (no template engine): the benchmark renders thousands of
pages, and these functions are the server's hot path.
"""

from __future__ import annotations

import json
from datetime import datetime
from email.utils import format_datetime
from html import escape
from urllib.parse import quote
from xml.sax.saxutils import escape as xml_escape

from crawler.samplesite import texts
from crawler.samplesite.model import SampleArticle, SiteModel, Zone
from crawler.samplesite.outlets import NDO, Outlet

PAGE_SIZE = 20
PLACEHOLDER = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"
WEEKDAYS = ["Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật"]


# ---------------------------------------------------------------- formats


def iso_compact(moment: datetime) -> str:
    """``2026-08-08T07:15:00+0700``: the offset without a colon, as the live site writes it."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S%z")


def list_date(moment: datetime) -> str:
    return moment.strftime("%d/%m/%Y %H:%M")


def visible_date(moment: datetime) -> str:
    return f"{WEEKDAYS[moment.weekday()]}, {moment:%d/%m/%Y - %H:%M}"


def _e(text: str) -> str:
    return escape(text, quote=True)


def _json_script(data: object) -> str:
    # "</" must not close the script element early.
    return json.dumps(data, ensure_ascii=False).replace("</", "<\\/")


# ---------------------------------------------------------------- page frame


def _head(title: str, base: str, extra: str = "", outlet: Outlet = NDO) -> str:
    static = outlet.static
    return (
        '<!DOCTYPE html>\n<html lang="vi">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n"
        f'<link rel="shortcut icon" href="{static}/styles/img/favicon.ico">\n'
        f'<link rel="stylesheet" href="{static}/styles/css/main.min.css?v=2026.08">\n'
        f'<link rel="alternate" type="application/rss+xml" title="{_e(outlet.paper)}" '
        f'href="{base}/rss/home.rss">\n'
        f"{extra}"
        "<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments);}"
        "gtag('js',new Date());gtag('config','G-NDO0000001');</script>\n"
        "<style>.qc{min-height:90px;text-align:center}.lazyload{opacity:0;transition:opacity .3s}"
        ".story__thumb img{width:100%}</style>\n"
        "</head>\n"
    )


def _header(model: SiteModel, base: str) -> str:
    outlet = model.outlet
    items = []
    for zone in model.zones:
        if zone.parent is None:
            children = "".join(
                f'<li><a href="{base}{child.path}" title="{_e(child.name)}">{_e(child.name)}</a></li>'
                for child in model.zones
                if child.parent is zone
            )
            sub = f'<ul class="sub-menu">{children}</ul>' if children else ""
            items.append(
                f'<li class="menu-item"><a href="{base}{zone.path}" title="{_e(zone.name)}">'
                f"{_e(zone.name)}</a>{sub}</li>"
            )
    topics = "".join(
        f'<a class="item" href="{base}{t.path}" title="{_e(t.name)}">{_e(t.name)}</a>' for t in model.topics
    )
    return (
        '<header class="site-header">\n<div class="container">'
        f'<a class="logo" href="{base}/" title="{_e(outlet.paper)}">'
        f'<img src="{outlet.static}/styles/img/logo.png" '
        f'alt="{_e(outlet.paper)}"></a>'
        f'<div class="header-date">{_e(outlet.slogan)}</div>'
        f'<form class="search-form" action="{base}/tim-kiem/" method="get"><input name="q" '
        'placeholder="Tìm kiếm"></form></div>\n'
        f'<nav class="main-menu"><ul class="menu">{"".join(items)}</ul></nav>\n'
        f'<div class="hot-topics"><span class="title">Chủ đề nóng</span>{topics}</div>\n'
        "</header>\n"
        '<div class="qc qc-top" id="adsWeb_AdsTop"><script>window.adsQueue=window.adsQueue||[];'
        "adsQueue.push({zone:'AdsTop'});</script></div>\n"
    )


def _footer(base: str, outlet: Outlet = NDO) -> str:
    lines = "".join(f"<p>{line.format(editor=texts.EDITOR_IN_CHIEF)}</p>" for line in outlet.footer_lines)
    return (
        '<footer class="site-footer">\n<div class="container">'
        f'<div class="footer-info">{lines}'
        f'</div><a class="rss" href="{base}/rss.html">RSS</a></div>\n</footer>\n'
        '<div class="qc qc-catfish" id="adsWeb_AdsCatfish"></div>\n'
        f'<script src="{outlet.static}/js/main.min.js?v=2026.08" defer></script>\n'
        "<script>if(window.lazySizes){lazySizes.init();}</script>\n"
        "</body>\n</html>\n"
    )


# ---------------------------------------------------------------- teasers


def story(article: SampleArticle, base: str, heading: str = "h3", summary: bool = True, meta: bool = False) -> str:
    """One ``article.story`` teaser, the unit of every listing and box."""
    url = base + article.path
    title = _e(article.served(article.title))
    parts = [
        f'<article class="story" data-id="{article.article_id}">',
        f'<figure class="story__thumb"><a class="cms-link" href="{url}" title="{title}">'
        f'<img class="lazyload" src="{PLACEHOLDER}" data-src="{article.thumb_url}" alt="{title}">'
        "</a></figure>",
        f'<{heading} class="story__heading"><a class="cms-link" href="{url}" title="{title}">{title}</a></{heading}>',
    ]
    if summary:
        parts.append(f'<div class="story__summary">{_e(article.served_sapo())}</div>')
    if meta:
        parts.append(
            f'<div class="story__meta"><a class="text text2" href="{url}">'
            f'<span class="cate">{_e(article.zone.name)}</span>{list_date(article.published_at)}</a></div>'
        )
    parts.append("</article>")
    return "".join(parts)


def api_articles(articles: list[SampleArticle], base: str) -> str:
    """The ``data.articles`` HTML of the morenews JSON endpoints (h3 a direct child of article)."""
    return "".join(story(a, base, "h3", True, True) for a in articles)


# ---------------------------------------------------------------- article page


def _image_html(article: SampleArticle, number: int) -> str:
    image = article.images[number]
    alt = _e(f"{article.served(article.title)} ảnh {number + 1}")
    caption = _e(article.served(image.caption))
    img = (
        f'<img class="lazyload cms-photo" src="{PLACEHOLDER}" data-src="{image.url}" '
        f'alt="{alt}" title="{alt}" data-width="800" data-height="533">'
    )
    if article.layout == "legacy-pictures":
        cap = f'<tr><td class="caption">{caption}</td></tr>' if caption else ""
        return f'<table class="picture" align="center"><tbody><tr><td class="pic">{img}</td></tr>{cap}</tbody></table>'
    cap = f"<figcaption>{caption}</figcaption>" if caption else ""
    return f'<figure class="image align-center" contenteditable="false">{img}{cap}</figure>'


def _paragraph_html(article: SampleArticle, text: str) -> str:
    html = _e(article.served(text))
    if article.tags and article.quirk == "":
        name = _e(article.tags[0].name)
        if name in html:
            html = html.replace(name, f'<a href="{article.tags[0].path}" class="cms-link">{name}</a>', 1)
    return f"<p>{html}</p>"


def _video_player(article: SampleArticle) -> str:
    return (
        f'<div class="cms-video-player" data-vid="v{article.article_id}">'
        f'<video class="video-js" preload="none" poster="{article.thumb_url}" '
        f'data-src="{article.outlet.video_host}/Uploaded/video/{article.article_id}.mp4"></video>'
        '<div class="vjs-control-bar"><button class="vjs-play-control" type="button">'
        '<span class="vjs-control-text">Phát</span></button>'
        '<div class="vjs-time-control">0:00 / 0:00</div>'
        '<span class="vjs-remaining-time">0:00</span></div></div>'
    )


def _related_box(model: SiteModel, article: SampleArticle, base: str) -> str:
    items = "".join(story(model.by_id[i], base, "h3", False) for i in article.related_ids if i in model.by_id)
    return (
        f'<div class="{article.outlet.related_class}">'
        '<div class="box-heading"><h3 class="title">Tin liên quan</h3></div>'
        f'<div class="box-content">{items}</div></div>'
    )


def _body_html(model: SiteModel, article: SampleArticle, base: str) -> str:
    out: list[str] = []
    if article.video:
        out.append(_video_player(article))
    pending: list[int] = []
    by_paragraph: dict[int, list[int]] = {}
    for number, image in enumerate(article.images):
        by_paragraph.setdefault(image.after_paragraph, []).append(number)
    start, end = article.notebox or (-1, -1)
    middle = len(article.paragraphs) // 2
    related_done = not article.related_ids
    for index, text in enumerate(article.paragraphs):
        if index == start:
            out.append('<div class="notebox cms-note ncenter">')
        out.append(_paragraph_html(article, text))
        if index == end - 1:
            out.append("</div>")
        pending += by_paragraph.get(index, [])
        if not start <= index < end - 1:
            out.extend(_image_html(article, number) for number in pending)
            pending = []
        if index == 0:
            out.append(
                '<div class="qc qc-article-middle" id="adsWeb_AdsArticleMiddle"><script>'
                "adsQueue.push({zone:'AdsArticleMiddle',size:[300,250]});</script></div>"
            )
        if not related_done and index >= middle and not start <= index < end - 1:
            out.append(_related_box(model, article, base))
            related_done = True
    out.extend(_image_html(article, number) for number in pending)
    if article.notebox:
        out.append("<style>.article__body .notebox{background:#f3f6f9;padding:12px 16px}</style>")
    if article.article_id % 5 == 0:
        out.append(
            '<div class="embed-container"><iframe src="https://www.youtube.com/embed/ndo'
            f'{article.article_id}" width="640" height="360" frameborder="0" '
            "allowfullscreen></iframe></div>"
        )
    if article.article_id % 7 == 0:
        out.append("<p>&nbsp;</p>")
    if article.outlet.body_footer and article.article_id % 3 != 0:
        out.extend(f"<p>{_e(line)}</p>" for line in article.outlet.body_footer)
    return "\n".join(out)


def _jsonld(article: SampleArticle, base: str) -> str:
    url = base + article.path
    title = article.served(article.title)
    outlet = article.outlet
    person = {"@type": "Person", "name": article.author or outlet.paper_online}
    news = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "mainEntityOfPage": {"@type": "WebPage", "@id": url},
        "headline": title,
        "description": article.served_sapo(),
        "image": {
            "@type": "ImageObject",
            "url": article.images[0].url if article.images else article.thumb_url,
            "width": 800,
            "height": 533,
        },
        "datePublished": article.published_at.isoformat(),
        "dateModified": article.modified_at.isoformat(),
        "author": person,
        "publisher": {
            "@type": "Organization",
            "name": outlet.paper,
            "logo": {"@type": "ImageObject", "url": f"{outlet.static}/styles/img/logo.png"},
        },
        "articleSection": article.zone.name,
        "keywords": ", ".join(article.tag_names),
    }
    crumbs = {
        "@context": "https://schema.org",
        "@type": "BreadcrumbList",
        "itemListElement": [
            {"@type": "ListItem", "position": n + 1, "item": {"@id": base + zone.path, "name": zone.name}}
            for n, zone in enumerate(article.zone.chain)
        ],
    }
    if article.jsonld_in_list:
        return f'<script type="application/ld+json">{_json_script([news, crumbs])}</script>\n'
    return (
        f'<script type="application/ld+json">{_json_script(news)}</script>\n'
        f'<script type="application/ld+json">{_json_script(crumbs)}</script>\n'
    )


def _article_meta(article: SampleArticle, base: str) -> str:
    url = base + article.path
    title = _e(article.served(article.title))
    sapo = _e(article.served_sapo())
    keywords = _e(", ".join(article.tag_names))
    image = article.images[0].url if article.images else article.thumb_url
    sections = "".join(f'<meta property="article:section" content="{_e(zone.name)}">\n' for zone in article.zone.chain)
    author = article.outlet.paper_online + (f"; {article.author}" if article.author else "")
    return (
        f'<meta name="description" content="{sapo}">\n'
        f'<meta name="keywords" content="{keywords}">\n'
        f'<meta name="news_keywords" content="{keywords}">\n'
        f'<meta name="author" content="{_e(author)}">\n'
        f'<link rel="canonical" href="{url}">\n'
        f'<meta property="og:site_name" content="{_e(article.outlet.paper_online)}">\n'
        '<meta property="og:type" content="article">\n'
        f'<meta property="og:url" content="{url}">\n'
        f'<meta property="og:title" content="{title}">\n'
        f'<meta property="og:description" content="{sapo}">\n'
        f'<meta property="og:image" content="{image}">\n'
        f'<meta property="article:published_time" content="{iso_compact(article.published_at)}">\n'
        f'<meta property="article:modified_time" content="{iso_compact(article.modified_at)}">\n'
        f"{sections}"
        f'<meta property="dable:item_id" content="{article.article_id}">\n'
        f'<meta itemprop="datePublished" content="{iso_compact(article.published_at)}">\n'
        f'<meta itemprop="dateModified" content="{iso_compact(article.modified_at)}">\n' + _jsonld(article, base)
    )


def _standard_article(model: SiteModel, article: SampleArticle, base: str) -> str:
    chain = article.zone.chain
    crumbs = "".join(
        f'<{"h2" if n == 0 else "h3"} class="{"main" if n == 0 else "sub"}"><a class="text" '
        f'href="{zone.path}" title="{_e(zone.name)}">{_e(zone.name)}</a></{"h2" if n == 0 else "h3"}>'
        for n, zone in enumerate(chain)
    )
    outlet = article.outlet
    sapo_tag = "h2" if article.article_id % 3 == 0 and outlet is NDO else "div"
    if outlet.visible_time_only:
        when = f'<span class="time">{list_date(article.published_at)}</span>'
    else:
        when = (
            f'<time class="time" datetime="{iso_compact(article.published_at)}">'
            f"{visible_date(article.published_at)}</time>"
        )
    tags = "".join(
        f'<a class="item" href="{tag.path}" title="{_e(tag.name)}">{_e(tag.name)}</a>' for tag in article.tags
    )
    return (
        f'<div class="breadcrumbs"><a class="home" href="{base}/" title="Trang chủ">'
        f'<i class="ic-home"></i></a>{crumbs}</div>\n'
        f'<article class="article{" article--video" if article.video else ""}" data-id="{article.article_id}">\n'
        '<div class="article__header">'
        f'<h1 class="article__title cms-title">{_e(article.served(article.title))}</h1>'
        '<div class="article__meta">'
        f"{when}"
        '<div class="social"><a class="fb" href="#" title="Chia sẻ Facebook"></a>'
        '<a class="zalo" href="#" title="Chia sẻ Zalo"></a></div></div></div>\n'
        f'<{sapo_tag} class="article__sapo cms-desc">{_e(article.served_sapo())}</{sapo_tag}>\n'
        f'<div class="article__body zce-content-body cms-body" itemprop="articleBody">\n'
        f"{_body_html(model, article, base)}\n</div>\n"
        f'<div class="article__author"><span class="{outlet.author_class}">{_e(article.author_line)}</span></div>\n'
        f'<div class="article__tag"><div class="box-heading">Từ khóa</div>'
        f'<div class="box-content">{tags}</div></div>\n'
        "</article>\n"
    )


def _drifted_article(model: SiteModel, article: SampleArticle, base: str) -> str:
    """A redesign the spider has never seen: none of the site selectors match."""
    paragraphs = "\n".join(f"<p>{_e(article.served(p))}</p>" for p in article.paragraphs)
    figures = "".join(
        f'<figure class="photo"><img src="{image.url}" alt=""><figcaption class="photo__cap">'
        f"{_e(article.served(image.caption))}</figcaption></figure>"
        for image in article.images
    )
    tags = "".join(f'<a href="{tag.path}">{_e(tag.name)}</a>' for tag in article.tags)
    return (
        f'<nav class="nav-path"><a href="{article.zone.path}">{_e(article.zone.name)}</a></nav>\n'
        f'<div class="detail" id="detail-{article.article_id}">\n'
        f'<h1 class="detail__heading">{_e(article.served(article.title))}</h1>\n'
        f'<span class="detail__date">{visible_date(article.published_at)}</span>\n'
        f'<div class="detail__lead">{_e(article.served_sapo())}</div>\n'
        f'<div class="detail__content">\n{paragraphs}\n{figures}\n</div>\n'
        f'<p class="detail__byline">{_e(article.author_line)}</p>\n'
        f'<div class="detail__keywords">{tags}</div>\n</div>\n'
    )


def article_page(
    model: SiteModel, article: SampleArticle, base: str, same_zone: list[SampleArticle], most_read: list[SampleArticle]
) -> str:
    outlet = model.outlet
    title = outlet.title(article.served(article.title))
    main = (_drifted_article if article.layout == "drifted" else _standard_article)(model, article, base)
    more = "".join(story(a, base, "h3") for a in same_zone if a is not article)[:20000]
    popular = "".join(story(a, base, "h5", True) for a in most_read)
    # The live CMS inlines its menu and tracking config: kilobytes of script around the article.
    config = _json_script(
        {
            "zones": [
                {"id": z.zone_id, "url": base + z.path, "name": z.name, "rss": base + z.rss_path} for z in model.zones
            ],
            "article": {
                "id": article.article_id,
                "zone": article.zone.zone_id,
                "tracking": ["ga4", "dable", "admicro", "chartbeat"],
            },
            "ads": {f"adsWeb_Ads{n}": {"size": [300, 250], "lazy": True} for n in range(40)},
        }
    )
    return (
        _head(title, base, _article_meta(article, base), outlet)
        + '<body class="page-article">\n'
        + _header(model, base)
        + '<main class="site-main"><div class="container"><div class="main-column">\n'
        + main
        + f'<section class="box-same-zone"><h2 class="box-heading">Tin cùng chuyên mục</h2>{more}</section>\n'
        + '</div><aside class="sidebar"><div class="qc" id="adsWeb_AdsRight1"></div>'
        + f'<section class="box-most-read"><h2 class="box-heading">Đọc nhiều</h2>{popular}</section>'
        + "</aside></div></main>\n"
        + f"<script>window.{outlet.js_global}={config};</script>\n"
        + _footer(base, outlet)
    )


# ---------------------------------------------------------------- listings


def listing_page(
    model: SiteModel,
    base: str,
    heading: str,
    articles: list[SampleArticle],
    more_url: str | None,
    canonical: str,
    extra_class: str = "",
) -> str:
    items = "".join(story(a, base, "h2" if n == 0 else "h3", True, False) for n, a in enumerate(articles))
    more = (
        (f'<div class="control"><button class="control__loadmore" data-url="{_e(more_url)}">Xem thêm</button></div>')
        if more_url
        else ""
    )
    return (
        _head(model.outlet.title(heading), base, f'<link rel="canonical" href="{_e(canonical)}">\n', model.outlet)
        + '<body class="page-list">\n'
        + _header(model, base)
        + '<main class="site-main"><div class="container">'
        + f'<h1 class="page-title">{_e(heading)}</h1>'
        + f'<div class="box-stream {extra_class}"><div class="box-content content-list">{items}</div>{more}</div>'
        + "</div></main>\n"
        + _footer(base, model.outlet)
    )


def search_page(model: SiteModel, base: str, query: str, results: list[SampleArticle], total: int) -> str:
    items = "".join(story(a, base, "h3", True, True) for a in results)
    more = ""
    if total > len(results):
        more = (
            f'<button class="control__loadmore" data-url="{base}/api/morenews-search-0-1.html?phrase='
            f'{quote(query)}">Xem thêm</button>'
        )
    return (
        _head(model.outlet.title(f"Tìm kiếm: {query}"), base, "", model.outlet)
        + '<body class="page-search">\n'
        + _header(model, base)
        + '<main class="site-main"><div class="container">'
        + f'<div class="box-search-result"><div class="box-heading">Tìm thấy {total} kết quả cho '
        + f'&ldquo;{_e(query)}&rdquo;</div><div class="box-content">{items}</div>{more}</div>'
        + '<div class="modal modal-login" id="modal-login"><div class="modal__content">'
        + "<h3>Đăng nhập</h3><p>Đăng nhập để lưu tin và nhận bản tin.</p></div></div>"
        + "</div></main>\n"
        + _footer(base, model.outlet)
    )


def rss_index_page(model: SiteModel, base: str) -> str:
    rows = [f'<li><a href="{base}/rss/home.rss">Trang chủ</a></li>']
    rows += [f'<li><a href="{base}{zone.rss_path}">{_e(zone.name)}</a></li>' for zone in model.zones]
    return (
        _head(model.outlet.title("RSS"), base, "", model.outlet)
        + '<body class="page-rss">\n'
        + _header(model, base)
        + f'<main class="site-main"><div class="container"><h1>RSS</h1><ul class="rss-list">{"".join(rows)}</ul>'
        + "</div></main>\n"
        + _footer(base, model.outlet)
    )


def not_found_page(model: SiteModel, base: str) -> str:
    return (
        _head(model.outlet.title("Không tìm thấy trang"), base, "", model.outlet)
        + '<body class="page-404">\n'
        + _header(model, base)
        + '<main class="site-main"><div class="container"><h1>404</h1>'
        + "<p>Trang bạn tìm không tồn tại hoặc đã bị xóa.</p></div></main>\n"
        + _footer(base, model.outlet)
    )


def error_page(status: int) -> str:
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{status}</title></head>'
        f"<body><h1>{status}</h1><p>nginx</p></body></html>\n"
    )


MALFORMED = (
    '<html><head><meta charset="utf-8"><!-- upstream cache error --></head>\n'
    '<bo dy><div class="qc" id="adsWeb_AdsTop"><script>var s = "<p>";</script></div>\n'
    '<table><tr><td>\ufffd\ufffd\x0b \u00c3\u00a1 &#xZZ; <div class="article__'
)


# ---------------------------------------------------------------- feeds and sitemaps


def robots(model: SiteModel, base: str) -> str:
    lines = ["User-agent: *"] + [f"Disallow: {path}" for path in model.robots_disallow]
    lines += ["Allow: /", "", f"Sitemap: {base}/sitemap.xml", ""]
    return "\n".join(lines)


def _w3c(moment: datetime) -> str:
    return moment.isoformat()


def monthly_sitemap_name(model: SiteModel, year: int, month: int) -> str:
    return f"news-{year}-{month:02d}.xml" if model.outlet.monthly_padded else f"news-{year}-{month}.xml"


def api_contents(articles: list[SampleArticle], base: str) -> list[dict]:
    """``data.contents`` of Tiền Phong's "load more": JSON items with epoch dates (every other URL relative)."""
    return [
        {
            "id": a.article_id,
            "title": a.served(a.title),
            "url": (base if n % 2 == 0 else "") + a.path,
            "description": a.served_sapo(),
            "date": int(a.published_at.timestamp()),
            "update_time": int(a.modified_at.timestamp()),
            "zone_id": a.zone.zone_id,
        }
        for n, a in enumerate(articles)
    ]


def sitemap_index(model: SiteModel, base: str) -> str:
    now = _w3c(model.now)
    names = (
        ["google-news.xml"]
        + [monthly_sitemap_name(model, y, m) for y, m in model.months()]
        + ["categories.xml", "topics.xml"]
    )
    entries = "".join(
        f"<sitemap><loc>{base}/sitemaps/{name}</loc><lastmod>{now}</lastmod></sitemap>\n" for name in names
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        f"{entries}</sitemapindex>\n"
    )


def google_news(model: SiteModel, base: str, articles: list[SampleArticle]) -> str:
    rows = []
    for a in articles:
        rows.append(
            f"<url><loc>{base}{a.path}</loc><lastmod>{_w3c(a.modified_at)}</lastmod>"
            f"<news:news><news:publication><news:name>{xml_escape(model.outlet.paper)}</news:name><news:language>vi</news:language>"
            f"</news:publication><news:publication_date>{_w3c(a.published_at)}</news:publication_date>"
            f"<news:title>{xml_escape(a.served(a.title))}</news:title>"
            f"<news:keywords>{xml_escape(', '.join(a.tag_names))}</news:keywords></news:news>"
            + (f"<image:image><image:loc>{a.images[0].url}</image:loc></image:image>" if a.images else "")
            + "</url>\n"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9" '
        'xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">\n'
        f"{''.join(rows)}</urlset>\n"
    )


def url_sitemap(entries: list[tuple[str, datetime | None, str]]) -> str:
    """A plain urlset: (absolute url, lastmod or None, changefreq)."""
    rows = "".join(
        f"<url><loc>{xml_escape(url)}</loc>"
        + (f"<lastmod>{_w3c(mod)}</lastmod>" if mod else "")
        + f"<changefreq>{freq}</changefreq></url>\n"
        for url, mod, freq in entries
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        f"{rows}</urlset>\n"
    )


def rss(model: SiteModel, base: str, title: str, self_path: str, link: str, articles: list[SampleArticle]) -> str:
    items = []
    for a in articles:
        url = base + a.path
        description = (
            f'<a href="{url}"><img src="{a.thumb_url}" width="150" /></a>{escape(a.served_sapo(), quote=False)}'
        ).replace("]]>", "]]&gt;")
        items.append(
            f"<item><title>{xml_escape(a.served(a.title))}</title><link>{url}</link>"
            f"<description><![CDATA[{description}]]></description>"
            f"<pubDate>{format_datetime(a.published_at)}</pubDate>"
            f'<guid isPermaLink="true">{url}</guid></item>\n'
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">\n<channel>\n'
        f"<title>{xml_escape(title)}</title><link>{link}</link>"
        f"<description>{xml_escape(model.outlet.rss_description)}</description>"
        f"<language>vi</language><lastBuildDate>{format_datetime(model.now)}</lastBuildDate>"
        f'<atom:link href="{base}{self_path}" rel="self" type="application/rss+xml"/>\n'
        f"{''.join(items)}</channel>\n</rss>\n"
    )


def zone_by_path(model: SiteModel, slug: str) -> Zone | None:
    return model.zone_by_slug.get(slug)

"""The outlets the sample site can imitate: what differs between NDO's look-alike and its sister sites.

Each look-alike runs on its own origin (its own :class:`~crawler.samplesite.server.SampleSite`)
and reproduces the differences and traps the team's ``sites.md`` maps: the URL extension, the
paper's names (in titles, bylines, footers), sapo datelines, the related box's class, footer
lines inside the body, the "load more" answer's shape, the zone ids of the category feeds,
padded or gzip-compressed monthly sitemaps, and article ids that collide with another outlet's.
``NDO`` reproduces the original look-alike byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Outlet:
    id: str
    # The live site's origin: saved fixtures look as if saved from there.
    base_url: str
    # "Báo Nhân Dân": the logo, JSON-LD publisher, RSS titles, the Google News publication.
    paper: str
    # "Báo Nhân Dân điện tử": the <title> suffix, og:site_name, the byline when the paper signs.
    paper_online: str
    ext: str
    static: str
    image_host: str
    video_host: str
    first_id: int
    slogan: str
    footer_lines: tuple[str, ...]
    rss_description: str
    js_global: str
    email: str
    # A dateline before some sapos; part of the ground truth (NDO keeps it) or not (stripped).
    sapo_prefixes: tuple[str, ...] = ()
    sapo_prefix_in_truth: bool = True
    # The byline as the page prints it around the author's name ("{name} (Vietnam+)"), on a share of articles.
    byline_suffix: str = ""
    related_class: str = "related-news"
    author_class: str = "name"
    # Only a visible ``span.time`` carries the date on the page (no ``time[datetime]``).
    visible_time_only: bool = False
    # Footer lines the CMS puts at the end of the body on some articles.
    body_footer: tuple[str, ...] = ()
    # The "load more" API: "articles_html" (latest, zone, search answer data.articles HTML),
    # "contents" (only zones, answering data.contents[] JSON items), or None (no API).
    more_api: str | None = "articles_html"
    has_latest: bool = True
    has_search: bool = True
    # Monthly sitemap names: "news-2026-08.xml" when padded.
    monthly_padded: bool = False
    # Monthly sitemaps served as gzip bytes (no Content-Encoding), whatever the client accepts.
    gzip_sitemaps: bool = False
    # NDO zone slug -> (zone id, slug, name or None to keep NDO's).
    zones: dict[str, tuple[int, str, str | None]] = field(default_factory=dict)
    # Take every third article id from this outlet's look-alike with the same seed and days.
    borrow_ids_from: str | None = None
    # Whose markup and routes the look-alike serves: "vendor" (NDO's CMS) or "baoquangninh" (its own CMS).
    cms: str = "vendor"
    # The article path; ``{slug}``, ``{id}`` and ``{ext}`` are filled in.
    path_format: str = "/{slug}-post{id}.{ext}"
    # A photo's URL; ``{host}`` (image_host), ``{year}``, ``{month}`` (two digits), ``{folder}``,
    # ``{stamp}``, ``{name}``.
    image_format: str = "{host}/w800/Uploaded/{year}/{folder}/{stamp}/{name}"
    # How other papers credit a story they republish from this one (``crawler/samplesite/wire.py``): a closing
    # "(Theo ...)" line, a byline "Theo ..." when the credit is an agency, a dateline before the sapo.
    credit: str = ""
    credit_byline: str = ""
    dateline: str = ""

    def title(self, text: str) -> str:
        return f"{text} | {self.paper_online}"


NDO = Outlet(
    id="nhandan",
    base_url="https://nhandan.vn",
    paper="Báo Nhân Dân",
    paper_online="Báo Nhân Dân điện tử",
    ext="html",
    static="https://static-cms-nhandan.epicdn.me/v4/web",
    image_host="https://image.nhandan.vn",
    video_host="https://media.nhandan.vn",
    first_id=985000,
    slogan="Cơ quan của Trung ương Đảng Cộng sản Việt Nam - Tiếng nói của Đảng, Nhà nước và Nhân dân Việt Nam",
    footer_lines=(
        "Bản quyền thuộc về Báo Nhân Dân",
        "Tổng Biên tập: {editor}",
        "Trụ sở Bộ biên tập: 71 Hàng Trống - Hà Nội.",
        "Điện thoại: 080.48047 - Email: toasoan@nhandan.vn",
        "Giấy phép số 1081/GP-BTTTT.",
        "Chỉ được phát hành lại thông tin từ website này khi có sự đồng ý bằng văn bản của Báo Nhân Dân.",
    ),
    rss_description="Báo Nhân Dân điện tử - Cơ quan của Trung ương Đảng Cộng sản Việt Nam",
    js_global="__NDO__",
    email="toasoan@nhandan.vn",
    sapo_prefixes=("NDO - ",),
    credit="Báo Nhân Dân",
    dateline="(NDO)",
)

VIETNAMPLUS = Outlet(
    id="vietnamplus",
    base_url="https://www.vietnamplus.vn",
    paper="VietnamPlus",
    paper_online="Vietnam+ (VietnamPlus)",
    ext="vnp",
    static="https://static-cms-vietnamplus.epicdn.me/v4/web",
    image_host="https://imagev3.vietnamplus.vn",
    video_host="https://media.vietnamplus.vn",
    first_id=1128000,
    slogan="Báo điện tử VietnamPlus - Thông tấn xã Việt Nam",
    footer_lines=(
        "Cơ quan chủ quản: THÔNG TẤN XÃ VIỆT NAM",
        "Tổng Biên tập: {editor}",
        "Giấy phép số 1314/GP-BTTTT.",
        "© Bản quyền thuộc về VietnamPlus, TTXVN. Cấm sao chép dưới mọi hình thức nếu không có sự chấp thuận "
        "bằng văn bản.",
    ),
    rss_description="VietnamPlus - Báo điện tử của Thông tấn xã Việt Nam",
    js_global="__VNP__",
    email="vietnamplus@vnanet.vn",
    byline_suffix=" (Vietnam+)",
    body_footer=(
        "Cơ quan chủ quản: THÔNG TẤN XÃ VIỆT NAM",
        "© Bản quyền thuộc về VietnamPlus, TTXVN.",
    ),
    more_api=None,
    has_latest=False,
    has_search=False,
    monthly_padded=True,
    zones={
        "kinhte": (311, "kinhte", None),
        "thegioi": (209, "thegioi", None),
        "xahoi": (314, "xahoi", None),
        "phapluat": (327, "phapluat", None),
    },
    # The national news agency's paper: its stories run elsewhere signed by the agency.
    credit="TTXVN",
    credit_byline="TTXVN",
    dateline="(Vietnam+)",
)

TIENPHONG = Outlet(
    id="tienphong",
    base_url="https://tienphong.vn",
    paper="Báo Tiền Phong",
    paper_online="Báo Tiền Phong",
    ext="tpo",
    static="https://static-cms-tienphong.epicdn.me/v4/web",
    image_host="https://image.tienphong.vn",
    video_host="https://media.tienphong.vn",
    # In NDO's range: every third id is one NDO uses for another article.
    first_id=985000,
    slogan="Cơ quan của Trung ương Đoàn TNCS Hồ Chí Minh",
    footer_lines=(
        "Bản quyền thuộc về Báo Tiền Phong",
        "Tổng Biên tập: {editor}",
        "Giấy phép số 76/GP-BTTTT.",
    ),
    rss_description="Báo Tiền Phong - Cơ quan của Trung ương Đoàn TNCS Hồ Chí Minh",
    js_global="__TPO__",
    email="online@tienphong.vn",
    sapo_prefixes=("TPO - ", "TP - "),
    sapo_prefix_in_truth=False,
    related_class="article-relate",
    author_class="name cms-author",
    visible_time_only=True,
    more_api="contents",
    has_latest=False,
    has_search=False,
    gzip_sitemaps=True,
    zones={
        "kinhte": (3, "kinh-te", None),
        "xahoi": (2, "xa-hoi", None),
        "thegioi": (5, "the-gioi", None),
        "thethao": (11, "the-thao", None),
        "y-te": (210, "suc-khoe", "Sức khỏe"),
        "chungkhoan": (105, "tai-chinh-chung-khoan", "Tài chính - Chứng khoán"),
        "thong-tin-hang-hoa": (166, "dia-oc", "Địa ốc"),
    },
    borrow_ids_from="nhandan",
    credit="Báo Tiền Phong",
    dateline="(TPO)",
)

BAOQUANGNINH = Outlet(
    id="baoquangninh",
    base_url="https://baoquangninh.vn",
    paper="Báo Quảng Ninh",
    paper_online="Báo Quảng Ninh điện tử",
    ext="html",
    static="https://static.baoquangninh.vn",
    image_host="https://media.baoquangninh.vn",
    video_host="https://media.baoquangninh.vn",
    # Seven digits, as the live ids (about 3.35 M in 2026); every third one is a VietnamPlus id.
    first_id=3349000,
    slogan="Trung tâm Truyền thông tỉnh Quảng Ninh",
    footer_lines=(
        "Cơ quan chủ quản: Tỉnh ủy Quảng Ninh",
        "Cơ quan quản lý: Trung tâm Truyền thông tỉnh Quảng Ninh",
        "Giấy phép số 48/GP-BTTTT.",
        "© Bản quyền thuộc về Trung tâm Truyền thông tỉnh Quảng Ninh",
    ),
    rss_description="Báo Quảng Ninh điện tử - Trung tâm Truyền thông tỉnh Quảng Ninh",
    js_global="__QMG__",
    email="toasoan@baoquangninh.vn",
    more_api=None,
    has_latest=False,
    has_search=False,
    # NDO zone slug -> the category of the provincial paper (its feed is /rss/news/<slug>.rss).
    zones={
        "chinhtri": (1, "chinh-tri", None),
        "xa-luan": (2, "binh-luan", "Bình luận"),
        "xay-dung-dang": (3, "xay-dung-dang", None),
        "kinhte": (4, "kinh-te", None),
        "chungkhoan": (5, "xuc-tien-dau-tu", "Xúc tiến đầu tư"),
        "thong-tin-hang-hoa": (6, "than-khoang-san", "Than - Khoáng sản"),
        "xahoi": (7, "xa-hoi", None),
        "thethao": (8, "the-thao", None),
        "thegioi": (9, "quoc-te", "Quốc tế"),
        "vanhoa": (10, "van-hoa-van-nghe", "Văn hóa - Văn nghệ"),
        "du-lich": (11, "du-lich", None),
        "phapluat": (12, "phap-luat", None),
        "khoahoc-congnghe": (13, "khoa-hoc-cong-nghe", None),
        "moi-truong": (14, "cong-nghiep-ha-tang", "Công nghiệp - Hạ tầng"),
        "giaoduc": (15, "giao-duc", None),
        "y-te": (16, "y-te", None),
        "bandoc": (17, "ban-doc", None),
    },
    borrow_ids_from="vietnamplus",
    cms="baoquangninh",
    path_format="/{slug}-{id}.html",
    image_format="{host}/upload/image/{year}{month}/medium/{name}",
    credit="Báo Quảng Ninh",
)

OUTLETS = {outlet.id: outlet for outlet in (NDO, VIETNAMPLUS, TIENPHONG, BAOQUANGNINH)}


def get_outlet(outlet_id: str) -> Outlet:
    try:
        return OUTLETS[outlet_id]
    except KeyError:
        raise ValueError(f"unknown sample outlet {outlet_id!r} (known: {', '.join(OUTLETS)})") from None

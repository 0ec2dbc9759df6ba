"""The few strings a digest shows, in Vietnamese (default) and English."""

from __future__ import annotations

STRINGS: dict[str, dict[str, str]] = {
    "vi": {
        "brand_one": "Bản tin {outlet}",
        "brand_many": "Bản tin báo chí",
        "and_list": "{first} và {last}",
        "subject": "{brand} {date}: {count} bài mới",
        "subject_with_updates": "{brand} {date}: {count} bài mới, {updates} bài cập nhật",
        "subject_updates_only": "{brand} {date}: {updates} bài cập nhật",
        "subject_empty": "{brand} {date}: không có bài mới",
        "heading": "{brand} ngày {date}",
        "greeting": "Chào {name},",
        "intro": "{count} bài mới trên {outlets} theo chủ đề bạn theo dõi.",
        "intro_empty": "Không có bài nào khớp với chủ đề bạn theo dõi kể từ bản tin trước.",
        "updated": "Đã cập nhật",
        "also_in": "Cũng thuộc",
        "also_on": "cũng đăng trên",
        "why": "Khớp",
        "by": "Tác giả",
        "more": "… và {count} bài khác",
        "more_html": "… và {count} bài khác (xem danh sách trong bản văn bản của thư này).",
        "coverage": "Đã quét {scanned} bài mới hoặc cập nhật ({runs} lượt thu thập, nguồn: {sources}); "
        "{failures} trang lỗi.",
        "coverage_none": "Chưa có lượt thu thập nào kể từ bản tin trước.",
        "no_sources": "không nguồn nào",
        "warn_degraded": "Cảnh báo: lượt thu thập gần nhất ({when}) có trạng thái “{status}” — có thể bỏ sót bài.",
        "warn_stale": "Cảnh báo: lượt thu thập thành công gần nhất là {when}, đã quá lâu — có thể bỏ sót bài.",
        "warn_never": "Cảnh báo: chưa có lượt thu thập nào hoàn tất.",
        "footer": "Bạn nhận thư này vì đã đăng ký bản tin bantin cho các chủ đề: {topics}.",
        "unsubscribe": "Hủy đăng ký",
        "preferences": "Chọn chủ đề hoặc tạm dừng bản tin",
        "field_title": "tiêu đề",
        "field_sapo": "sapo",
        "field_body": "nội dung",
        "field_tag": "thẻ",
        "field_category": "chuyên mục",
        "test_subject": "bantin: thư kiểm tra SMTP",
        "test_body": "Đây là thư kiểm tra cấu hình SMTP của bantin, gửi lúc {when}. "
        "Nếu bạn đọc được thư này, cấu hình đã đúng.",
    },
    "en": {
        "brand_one": "{outlet} digest",
        "brand_many": "Press digest",
        "and_list": "{first} and {last}",
        "subject": "{brand} {date}: {count} new {articles}",
        "subject_with_updates": "{brand} {date}: {count} new {articles}, {updates} updated",
        "subject_updates_only": "{brand} {date}: {updates} updated",
        "subject_empty": "{brand} {date}: nothing new",
        "heading": "{brand} for {date}",
        "greeting": "Hello {name},",
        "intro": "{count} new {articles} from {outlets} on the topics you follow.",
        "intro_empty": "Nothing matched the topics you follow since the previous digest.",
        "updated": "Updated",
        "also_in": "Also in",
        "also_on": "also on",
        "why": "Matched",
        "by": "By",
        "more": "… and {count} more",
        "more_html": "… and {count} more (listed in the plain-text part of this message).",
        "coverage": "Scanned {scanned} new or updated articles ({runs} crawl runs, sources: {sources}); "
        "{failures} failed pages.",
        "coverage_none": "No crawl has run since the previous digest.",
        "no_sources": "no source",
        "warn_degraded": "Warning: the last crawl ({when}) ended “{status}” — articles may be missing.",
        "warn_stale": "Warning: the last successful crawl was {when}, which is too long ago — articles may be missing.",
        "warn_never": "Warning: no crawl has finished yet.",
        "footer": "You receive this because you subscribed to the bantin digest for: {topics}.",
        "unsubscribe": "Unsubscribe",
        "preferences": "Choose your topics or pause the digest",
        "field_title": "title",
        "field_sapo": "summary",
        "field_body": "body",
        "field_tag": "tag",
        "field_category": "category",
        "test_subject": "bantin: SMTP test message",
        "test_body": "This is a test of bantin's SMTP settings, sent at {when}. If you can read it, the settings work.",
    },
}


def text(language: str, key: str, **values: object) -> str:
    table = STRINGS.get(language, STRINGS["vi"])
    if "count" in values and "articles" not in values:
        values["articles"] = "article" if values["count"] == 1 else "articles"
    return table[key].format(**values)


def field_name(language: str, field: str) -> str:
    return STRINGS.get(language, STRINGS["vi"]).get(f"field_{field}", field)

"""The vietnamplus.vn spider: the vendor CMS navigation with VietnamPlus's row (``scrapy crawl vietnamplus``)."""

from __future__ import annotations

from spiders.vendorcms.spider import VendorCmsSpider

from .site import PROFILE, SITE


class VietnamplusSpider(VendorCmsSpider):
    name = "vietnamplus"
    site = SITE
    profile = PROFILE

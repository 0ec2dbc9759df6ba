"""The tienphong.vn spider: the vendor CMS navigation with Tiền Phong's row (``scrapy crawl tienphong``)."""

from __future__ import annotations

from spiders.vendorcms.spider import VendorCmsSpider

from .site import PROFILE, SITE


class TienphongSpider(VendorCmsSpider):
    name = "tienphong"
    site = SITE
    profile = PROFILE

"""The nhandan.vn spider: the vendor CMS navigation with NDO's row (``scrapy crawl nhandan``)."""

from __future__ import annotations

from spiders.vendorcms.spider import VendorCmsSpider

from .site import PROFILE, SITE


class NhandanSpider(VendorCmsSpider):
    name = "nhandan"
    site = SITE
    profile = PROFILE

"""Báo Nhân Dân (nhandan.vn, "NDO"): every fact bantin knows about the outlet.

``site.py`` holds its registry entry (``SITE``) and its vendor CMS row
(``PROFILE``); ``spider.py`` the spider Scrapy runs (``scrapy crawl nhandan``).
The facts themselves are mapped in the team's ``ndo-site.md``.
"""

from .site import PROFILE, SITE

__all__ = ["PROFILE", "SITE"]

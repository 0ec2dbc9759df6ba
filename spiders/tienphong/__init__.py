"""Báo Tiền Phong (tienphong.vn, "TPO"): every fact bantin knows about the outlet.

It runs NDO's vendor CMS: ``site.py`` holds its registry entry (``SITE``) and its row of
the family's table (``PROFILE``); ``spider.py`` the spider (``scrapy crawl tienphong``).
The facts are mapped in the team's ``sites.md`` (§2.1, §2.2).
"""

from .site import PROFILE, SITE

__all__ = ["PROFILE", "SITE"]

"""Báo Quảng Ninh (baoquangninh.vn, QMG): every fact bantin knows about the outlet.

It runs its own CMS, not NDO's: ``article.py`` is its page object (structured data and meta
tags first, then its own selectors, then the generic extractor), ``listings.py`` reads its
feed index, ``site.py`` holds its registry entry (``SITE``) and its selectors and names
(``PROFILE``), ``spider.py`` the spider (``scrapy crawl baoquangninh``). The team's map
(``sites.md`` §3) has no verified article markup for it: every selector here awaits a live
check, and each item records which layer served each field.
"""

from .site import PROFILE, SITE

__all__ = ["PROFILE", "SITE"]

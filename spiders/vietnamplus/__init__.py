"""VietnamPlus (www.vietnamplus.vn, TTXVN's news site): every fact bantin knows about the outlet.

It runs NDO's vendor CMS: ``site.py`` holds its registry entry (``SITE``) and its row of
the family's table (``PROFILE``); ``spider.py`` the spider (``scrapy crawl vietnamplus``).
The facts are mapped in the team's ``sites.md`` (§2.1, §2.4).
"""

from .site import PROFILE, SITE

__all__ = ["PROFILE", "SITE"]

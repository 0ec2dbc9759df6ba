"""NDO's vendor CMS family (nhandan.vn and its sister outlets): one page object, one spider, a row per site.

- ``profile.py``: :class:`VendorCmsProfile`, the row a site package fills in (paths, selectors, names);
- ``selectors.py``: the shape of the selector table;
- ``article.py``: :class:`ArticlePage`, the article page object (no Scrapy);
- ``listings.py``: the family's HTML listings and "load more" JSON;
- ``spider.py``: :class:`VendorCmsSpider`, the navigation every site of the family shares.
"""

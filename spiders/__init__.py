"""Scrapy spiders for bantin; page objects (extraction) live in ``spiders.pages``."""

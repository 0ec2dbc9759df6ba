"""bantin: a news-monitoring crawler for Báo Nhân Dân (nhandan.vn)."""

__version__ = "0.1.0"
PROJECT_URL = "https://github.com/bantin-ndo/bantin"

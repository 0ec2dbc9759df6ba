"""bantin: a news-monitoring crawler for the Vietnamese press."""

__version__ = "0.1.0"
PROJECT_URL = "https://github.com/bantin-ndo/bantin"

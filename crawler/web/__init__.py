"""bantin's web app: the archive, topics and health for the team; preferences and feeds for readers.

`create_app(WebApp(...))` builds the ASGI app; `bantin web` serves it with uvicorn.
"""

from crawler.web.app import WebApp, create_app

__all__ = ["WebApp", "create_app"]

"""`bantin web`: the web app (archive, topics, status, readers, feeds), served by uvicorn."""

from __future__ import annotations

import os

import click

from crawler.cli import App, pass_app
from crawler.config import CONFIG_ENV
from crawler.errors import UsageError

# How many workers share the limits, for each worker process.
WORKERS_ENV = "BANTIN_WEB_WORKERS"


@click.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (keep 127.0.0.1 behind a reverse proxy).",
)
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(1, 32),
    default=1,
    show_default=True,
    help="uvicorn worker processes (about one per core); the login limit is shared out among them.",
)
@click.option(
    "--hash-password",
    "hash_only",
    is_flag=True,
    help="Ask for an admin password and print its argon2 hash (for web.admin_password_env/_file).",
)
@pass_app
def web(app: App, host: str, port: int, workers: int, hash_only: bool) -> None:
    """Serve the web interface in the foreground: one process beside `bantin serve`.

    Refuses to start (exit 2) without the signing secret or an admin credential.
    """
    from crawler.web.security import hash_password

    if hash_only:
        password = click.prompt("admin password", hide_input=True, confirmation_prompt=True, err=True)
        if len(password) < 12:
            raise UsageError("use at least 12 characters")
        click.echo(hash_password(password))
        return
    import uvicorn

    # Built here even with several workers: a missing secret or credential is refused before any starts.
    web_app = build_web_app(app)
    click.echo(
        f"bantin web on http://{host}:{port}/ ({workers} worker{'s' if workers > 1 else ''}; "
        f"public URL: {app.config.web.public_url or 'not set'})",
        err=True,
    )
    if workers > 1:
        # Each worker process imports the app afresh (uvicorn needs an import string): it finds the
        # same file through the environment. Nothing else is shared: sessions, form tokens and feed
        # validators are signed or read from the database, and the limits are shared out.
        if app.config.path is not None:
            os.environ[CONFIG_ENV] = str(app.config.path)
        os.environ[WORKERS_ENV] = str(workers)
    if workers == 1:
        settle_heap()
    # No proxy headers: the peer address is the socket's (a trusted proxy's forwarding is read by the
    # app itself, only from web.trusted_proxies).
    uvicorn.run(
        web_app if workers == 1 else "crawler.cli.web_commands:worker_app",
        factory=workers > 1,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=False,
        server_header=False,
        date_header=True,
        log_level="info" if not app.debug else "debug",
        access_log=False,
    )


def worker_app():
    """The app of one of several worker processes (what `web --workers N` gives uvicorn to import)."""
    app = build_web_app(App(os.environ.get(CONFIG_ENV), False), workers=int(os.environ.get(WORKERS_ENV, "1")))
    settle_heap()
    return app


# Container allocations between two young-generation collections (Python's default: 700). A request
# allocates tens of thousands of short-lived objects that reference counting frees anyway.
YOUNG_COLLECTION_EVERY = 10_000


def settle_heap() -> None:
    """Once the app is built: what it imported and built lives as long as the process, so the cyclic
    collector stops walking it (a full collection walked all of it, ~80 ms of one request's time
    every ~80 requests), and the young generation is collected less often (~0.3 ms per request)."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, *gc.get_threshold()[1:])


def build_web_app(app: App, *, workers: int = 1):
    """The ASGI app for this configuration; a missing secret or admin credential raises ConfigError."""
    from crawler.web import WebApp, create_app
    from crawler.web.security import WebSettings
    from spiders.registry import everyday_sources, sites

    config = app.config
    settings = WebSettings.from_config(config)
    outlets = {site_id: site.name for site_id, site in sites().items()}
    return create_app(
        WebApp(
            config=config,
            database=app.database,
            settings=settings,
            outlets=outlets,
            everyday_sources=everyday_sources,
            workers=workers,
        )
    )

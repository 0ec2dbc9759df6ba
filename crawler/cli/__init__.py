"""The `bantin` command line: the composition root.

Commands live in submodules that are imported only when their command runs,
so `bantin --help` stays instant. Domain errors become one line on stderr and
an exit status here, at the edge, and nowhere else.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from functools import cached_property
from typing import overload

import click

from crawler import __version__
from crawler.errors import BantinError
from crawler.logs import quiet_libraries

# command name -> "module:attribute", imported on first use
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("crawler.cli.crawl_commands:init", "Write a starter configuration and create the database."),
    "crawl": ("crawler.cli.crawl_commands:crawl", "Crawl the site into the archive."),
    "extract": ("crawler.cli.crawl_commands:extract", "Extract one article page and print the item."),
    "articles": ("crawler.cli.crawl_commands:articles", "List, show, search and export stored articles."),
    "sites": ("crawler.cli.site_commands:sites", "List the followed sites and their last crawl; check their sources."),
    "status": ("crawler.cli.status_commands:status", "Show the service, the last runs and health warnings."),
    "match": ("crawler.cli.topic_commands:match", "Check whether a query matches a text, and why."),
    "topics": ("crawler.cli.topic_commands:topics", "List, back-test and re-match topics."),
    "index": ("crawler.cli.index_commands:index", "Check or rebuild the archive's full-text index."),
    "digest": ("crawler.cli.digest_commands:digest", "Preview, send or resend the digest e-mails."),
    "smtp": ("crawler.cli.digest_commands:smtp", "Check the SMTP settings."),
    "recipients": ("crawler.cli.reader_commands:recipients", "List each recipient's effective subscription."),
    "web": ("crawler.cli.web_commands:web", "Run the web interface: archive, topics, status, readers, feeds."),
    "demo": ("crawler.cli.demo_command:demo", "Run the whole chain offline on the bundled sample site."),
    "serve": ("crawler.cli.service_commands:serve", "Run the scheduled crawl and digest in the foreground."),
    "service": ("crawler.cli.service_commands:service", "Print a systemd unit for `bantin serve`."),
    "worker": ("crawler.cli.worker_command:worker", "Run cluster jobs (crawls, digests) on this machine."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module_name, _, attribute = COMMANDS[name][0].partition(":")
        return getattr(importlib.import_module(module_name), attribute)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Short help comes from the table so that --help imports nothing.
        with formatter.section("Commands"):
            formatter.write_dl([(name, help_text) for name, (_, help_text) in COMMANDS.items()])


class App:
    """What every command shares: where the config is, and lazily the config and database."""

    def __init__(self, config_path: str | None, debug: bool):
        self.config_path = config_path
        self.debug = debug

    def load_config(self):
        """Read the configuration afresh, checking its sites against the registry (SIGHUP reloads too)."""
        from crawler.config import load_config

        config = load_config(self.config_path)
        if config.sites is not None or config.site.category_feeds:
            # Only [[sites]] names sites, and only it or [site] names feeds (each in its site's shape);
            # importing the registry loads every site package (and Scrapy).
            from spiders.registry import sites

            config.check_sites(sites(), path=config.path)
        return config

    @cached_property
    def config(self):
        return self.load_config()

    def find_article(self, session, reference: str):
        """The stored article a person means by a URL, SITE:ID or a site's own id (sites read their URLs and ids).

        A site the archive holds but the registry no longer knows still answers, its ids read as typed.
        """
        from crawler.store.archive import find_article
        from spiders.registry import resolve_url, sites

        id_rules = {site.id: site.normalise_id for site in sites().values()}
        return find_article(session, reference, resolve_url=resolve_url, id_rules=id_rules)

    @overload
    def resolve_topic(self, topic: str) -> str: ...
    @overload
    def resolve_topic(self, topic: None) -> None: ...
    def resolve_topic(self, topic: str | None) -> str | None:
        """A configured topic's name as written in the configuration, from however it was typed."""
        if topic is None:
            return None
        from crawler.config import topic_key
        from crawler.errors import UsageError

        for configured in self.config.topics:
            if topic_key(configured.name) == topic_key(topic):
                return configured.name
        names = ", ".join(repr(t.name) for t in self.config.topics) or "none configured"
        raise UsageError(f"unknown topic {topic!r} (topics: {names})")

    def chosen_sites(self, chosen: tuple[str, ...] = ()) -> list:
        """The `[[sites]]` entries a crawl covers: the `chosen` ids, else every enabled one (config only)."""
        from crawler.errors import UsageError

        config = self.config
        if not chosen:
            entries = config.enabled_sites()
            if not entries:
                raise UsageError("no site is enabled: set enabled = true in one of [[sites]], or give --site ID")
            return entries
        entries = []
        for site_id in dict.fromkeys(chosen):
            entry = config.site_entry(site_id)
            if entry is None:
                configured = ", ".join(e.id for e in config.site_entries())
                raise UsageError(f"--site {site_id}: not a configured site (configured: {configured})")
            entries.append(entry)
        return entries

    def crawl_site(self, entry):
        """A configured site resolved against the registry: its spider and (unless overridden) its address."""
        from crawler.crawl.addon import CrawlSite
        from spiders.registry import get_site

        site = get_site(entry.id)
        return CrawlSite.from_entry(entry, spider=site.spider, base_url=site.base_url)

    @cached_property
    def database(self):
        from crawler.store import Database

        return Database(self.config.storage.url)


pass_app = click.make_pass_decorator(App)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bantin")
@click.option(
    "--config",
    "config_path",
    metavar="PATH",
    help="Configuration file (default: $BANTIN_CONFIG, ./bantin.toml, then the user config dir).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors in the log.")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, debug: bool, quiet: bool) -> None:
    """bantin: follow the Vietnamese press on your topics, with a daily digest e-mail."""
    level = logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    quiet_libraries(debug)
    ctx.obj = App(config_path, debug)


def main(argv: list[str] | None = None) -> None:
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        # Not standalone: click returns a command's exit status (ctx.exit(n)) instead of exiting.
        status = cli.main(args=argv, prog_name="bantin", standalone_mode=False)
        sys.exit(status if isinstance(status, int) else 0)
    except click.exceptions.Abort:
        click.echo("bantin: interrupted", err=True)
        sys.exit(130)
    except click.exceptions.NoArgsIsHelpError as exc:
        # `bantin` or `bantin articles` alone: show the help, as asked.
        click.echo(exc.ctx.get_help())
        sys.exit(0)
    except click.UsageError as exc:
        # One line, like every other error: the usage text is one --help away.
        command = exc.ctx.command_path if exc.ctx else "bantin"
        click.echo(f"bantin: error: {exc.format_message()} (see `{command} --help`)", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"bantin: error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except BantinError as exc:
        if debug:
            raise
        click.echo(f"bantin: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("bantin: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        # `bantin articles list | head`: the reader left; that is not an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
    except Exception as exc:  # noqa: BLE001 - the edge: a bug still gets one clear line
        if debug:
            raise
        from crawler.store import outage_reason

        reason = outage_reason(exc)
        if reason is not None:
            click.echo(f"bantin: error: the database failed: {reason}", err=True)
            sys.exit(1)
        click.echo(f"bantin: internal error: {type(exc).__name__}: {exc} (run with --debug for details)", err=True)
        sys.exit(1)

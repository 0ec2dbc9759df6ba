"""`bantin serve` and `bantin service unit`."""

from __future__ import annotations

import getpass
import math
import shutil
import sys
from pathlib import Path

import click

from crawler import PROJECT_URL
from crawler.cli import pass_app
from crawler.errors import UsageError

# Between SIGTERM and SIGKILL for a crawl child: covers the child's own grace.
from scheduler.jobs import KILL_GRACE_SECONDS


@click.command()
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="One line per event: plain text, or JSON objects for log shippers.",
)
@pass_app
def serve(app, log_format: str) -> None:
    """Run the scheduled crawl and digest in the foreground until SIGTERM or Ctrl-C.

    Only one service runs per database: a second one exits at once with
    status 75 — in cluster mode it waits instead, and takes over when the
    first one's lease expires. SIGHUP re-reads the configuration.
    """
    from scheduler.service import Service, configure_logging

    configure_logging(log_format, debug=app.debug)
    config = app.config
    service_class = Service
    if config.cluster.enabled:
        # Queues the work for `bantin worker`s; waits while another `bantin serve` holds the lease.
        from scheduler.cluster.planner import ClusterService as service_class
    service = service_class(
        config,
        app.database,
        config_loader=app.load_config,
        kill_grace=KILL_GRACE_SECONDS,
    )
    code = service.run()
    if code:
        sys.exit(code)


@click.group()
def service() -> None:
    """Run bantin as a system service."""


@service.command("unit")
@click.option("--user", "scope", flag_value="user", default=True, help="A systemd user unit (the default).")
@click.option("--system", "scope", flag_value="system", help="A system unit running as the current user.")
@click.option(
    "--web",
    "web_port",
    type=click.IntRange(1, 65535),
    is_flag=False,
    flag_value=8080,
    default=None,
    metavar="[PORT]",
    help="The unit of `bantin web` instead (on 127.0.0.1, port 8080 unless given).",
)
@click.option("--worker", is_flag=True, help="The unit for `bantin worker` (cluster mode), not `bantin serve`.")
@pass_app
def unit(app, scope: str, web_port: int | None, worker: bool) -> None:
    """Print a systemd unit for `bantin serve`, `bantin worker` or `bantin web` (install: see its comments)."""
    config = app.config
    if config.path is None:
        raise UsageError("no configuration file: run `bantin init` first, or pass --config PATH")
    if web_port is not None and worker:
        raise UsageError("--web and --worker are two different units: ask for one at a time")
    if web_port is not None:
        click.echo(
            web_unit(
                executable=bantin_executable(),
                config_path=config.path.resolve(),
                port=web_port,
                scope=scope,
                user=getpass.getuser(),
            ),
            nl=False,
        )
        return
    if worker and not config.cluster.enabled:
        raise UsageError("--worker: cluster mode is off; set enabled = true in [cluster] (PostgreSQL only)")
    click.echo(
        systemd_unit(
            executable=bantin_executable(),
            config_path=config.path.resolve(),
            time_limit_minutes=config.crawl.time_limit_minutes,
            scope=scope,
            user=getpass.getuser(),
            role="worker" if worker else "serve",
        ),
        nl=False,
    )


def bantin_executable() -> list[str]:
    """The absolute command that starts bantin here (the console script when there is one)."""
    argv0 = Path(sys.argv[0])
    if argv0.name == "bantin" and argv0.is_file():
        return [str(argv0.absolute())]
    beside_python = Path(sys.executable).parent / "bantin"
    if beside_python.is_file():
        return [str(beside_python)]
    found = shutil.which("bantin")
    if found:
        return [str(Path(found).absolute())]
    from crawler.crawl.run import python_module_command

    # The unit's WorkingDirectory is the config's folder, among the user's files.
    return [*python_module_command(), "crawler"]


def stop_timeout_seconds(time_limit_minutes: float) -> int:
    """Longer than the longest job: a crawl at its limit, its kill grace, and a digest's margin."""
    return math.ceil(time_limit_minutes * 60 + KILL_GRACE_SECONDS + 120)


def _quote(argument: str) -> str:
    if argument and all(ch.isalnum() or ch in "/._-+:=@" for ch in argument):
        return argument
    escaped = argument.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    return f'"{escaped}"'


def systemd_unit(
    *,
    executable: list[str],
    config_path: Path,
    time_limit_minutes: float,
    scope: str,
    user: str,
    role: str = "serve",
) -> str:
    command = " ".join(_quote(part) for part in [*executable, "--config", str(config_path), role])
    timeout = stop_timeout_seconds(time_limit_minutes)
    # The worker's unit installs beside the service's: `bantin-worker` on every machine of a cluster.
    name = "bantin" if role == "serve" else "bantin-worker"
    flag = "" if role == "serve" else " --worker"
    if scope == "user":
        install = [
            "# Install as a user service:",
            "#   mkdir -p ~/.config/systemd/user",
            f"#   bantin service unit --user{flag} > ~/.config/systemd/user/{name}.service",
            f"#   systemctl --user daemon-reload && systemctl --user enable --now {name}.service",
            '#   loginctl enable-linger "$USER"    # keep it running while you are logged out',
            f"# Logs: journalctl --user -u {name} -f"
            + (f"    Reload the config: systemctl --user reload {name}" if role == "serve" else ""),
        ]
        env_file = "%h/.config/bantin/env"
        target = "default.target"
        identity: list[str] = []
    else:
        install = [
            "# Install as a system service:",
            f"#   bantin service unit --system{flag} | sudo tee /etc/systemd/system/{name}.service",
            f"#   sudo systemctl daemon-reload && sudo systemctl enable --now {name}.service",
            f"# Logs: journalctl -u {name} -f"
            + (f"    Reload the config: sudo systemctl reload {name}" if role == "serve" else ""),
        ]
        env_file = "/etc/bantin/env"
        target = "multi-user.target"
        identity = [f"User={user}", "NoNewPrivileges=yes", "PrivateTmp=yes"]
    lines = [
        f"# {name} ({scope} unit), generated by `bantin service unit --{scope}{flag}`",
        *install,
        "",
        "[Unit]",
        "Description=bantin: crawl the followed news sites and e-mail the daily digest"
        if role == "serve"
        else "Description=bantin worker: run the cluster's queued crawls and digests on this machine",
        f"Documentation={PROJECT_URL}",
        "Wants=network-online.target",
        "After=network-online.target",
        "",
        "[Service]",
        "Type=simple",
        f"ExecStart={command}",
        *(["ExecReload=/bin/kill -HUP $MAINPID"] if role == "serve" else []),
        f"WorkingDirectory={_quote(str(config_path.parent))}",
        *identity,
        "Environment=PYTHONUNBUFFERED=1",
        "# Secrets such as BANTIN_SMTP_PASSWORD=... and BANTIN_WEB_SECRET=... belong in a file only you can read:",
        f"#EnvironmentFile={env_file}",
        "Restart=on-failure",
        "RestartSec=30s",
        f"# mixed: SIGTERM goes to `bantin {role}` alone, which stops its crawl child(ren) cleanly and",
        "# lets a digest being sent finish; anything left at the timeout gets SIGKILL.",
        "KillMode=mixed",
        "KillSignal=SIGTERM",
        f"# Longer than the longest job: crawl.time_limit_minutes ({time_limit_minutes:g}) plus margins.",
        f"TimeoutStopSec={timeout}",
        "",
        "[Install]",
        f"WantedBy={target}",
        "",
    ]
    return "\n".join(lines)


def web_unit(*, executable: list[str], config_path: Path, port: int, scope: str, user: str) -> str:
    """The unit of `bantin web`: one uvicorn process on loopback, behind the site's reverse proxy."""
    command = " ".join(
        _quote(part)
        for part in [*executable, "--config", str(config_path), "web", "--host", "127.0.0.1", "--port", str(port)]
    )
    if scope == "user":
        where, control, env_file, target = (
            "~/.config/systemd/user",
            "systemctl --user",
            "%h/.config/bantin/env",
            "default.target",
        )
        identity: list[str] = []
    else:
        where, control, env_file, target = (
            "/etc/systemd/system",
            "sudo systemctl",
            "/etc/bantin/env",
            "multi-user.target",
        )
        identity = [f"User={user}", "NoNewPrivileges=yes", "PrivateTmp=yes"]
    lines = [
        f"# bantin web ({scope} unit), generated by `bantin service unit --{scope} --web`",
        f"# Install: save as {where}/bantin-web.service, then",
        f"#   {control} daemon-reload && {control} enable --now bantin-web.service",
        "# Put a reverse proxy (TLS) in front of it; bantin serve stays the only scheduler.",
        "",
        "[Unit]",
        "Description=bantin web: archive, topics, status, reader preferences and feeds",
        f"Documentation={PROJECT_URL}",
        "After=network.target",
        "",
        "[Service]",
        "Type=simple",
        f"ExecStart={command}",
        f"WorkingDirectory={_quote(str(config_path.parent))}",
        *identity,
        "Environment=PYTHONUNBUFFERED=1",
        "# BANTIN_WEB_SECRET=... and BANTIN_WEB_ADMIN_HASH=... belong in a file only you can read:",
        f"#EnvironmentFile={env_file}",
        "Restart=on-failure",
        "RestartSec=5s",
        "TimeoutStopSec=30",
        "",
        "[Install]",
        f"WantedBy={target}",
        "",
    ]
    return "\n".join(lines)

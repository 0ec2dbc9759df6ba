"""Configuration: found in the documented order, validated before anything runs, exit status 2."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from crawler.config import (
    Config,
    find_config_path,
    load_config,
    parse_config,
    starter_config,
)
from crawler.errors import ConfigError

VALID = """
[site]
base_url = "http://127.0.0.1:8080/"
[storage]
database_url = "sqlite:///x.sqlite3"
[crawl]
lookback_days = 3
download_delay = 0.5
[schedule]
timezone = "Asia/Ho_Chi_Minh"
crawl = "0 6 * * *"
digest = "30 6 * * 1-5"
[smtp]
host = "smtp.example.org"
port = 465
security = "ssl"
username = "bantin"
password_env = "MY_SMTP_PASSWORD"
sender = "Bản tin NDO <bantin@example.org>"
[digest]
language = "en"
unsubscribe_mailto = "unsubscribe@example.org"
[[topics]]
name = "Công nghiệp hỗ trợ"
query = '"công nghiệp hỗ trợ" OR CNHT'
[[topics]]
name = "Quảng Ninh"
query = "Quảng Ninh"
accents = "exact"
[[recipients]]
email = "reader@example.org"
topics = ["Công nghiệp hỗ trợ"]
[[recipients]]
email = "all@example.org"
"""


def test_valid_config_reads_every_section():
    config = parse_config(VALID)
    assert config.site.base_url == "http://127.0.0.1:8080"  # trailing slash dropped
    assert config.crawl.lookback_days == 3
    assert config.smtp.security == "ssl"
    assert [t.name for t in config.topics] == ["Công nghiệp hỗ trợ", "Quảng Ninh"]
    assert [t.name for t in config.topics_for(config.recipients[0])] == ["Công nghiệp hỗ trợ"]
    assert len(config.topics_for(config.recipients[1])) == 2  # omitted = all topics


def test_starter_config_is_valid_and_commented(tmp_path):
    text = starter_config(f"sqlite:///{tmp_path}/db.sqlite3", site_url="https://news.example.org", feed_example="a-1")
    config = parse_config(text)
    assert config.storage.database_url.endswith("db.sqlite3")
    assert config.site.base_url == "https://news.example.org"
    assert config.schedule.timezone == "Asia/Ho_Chi_Minh"
    assert 'example: ["a-1"]' in text and not re.search(r"@[A-Z_]+@", text)  # every placeholder filled
    assert text.count("#") > 20
    assert "password =" not in text  # secrets never live in the file


BAD = [
    ('[crawl]\nconcurrency = "2"', "crawl.concurrency", "valid integer"),
    ("[crawl]\nspeed = 1", "crawl.speed", "unknown key"),
    ("[nonsense]\nx = 1", "nonsense", "unknown key"),
    ("[crawl]\ndownload_delay = -1", "crawl.download_delay", "greater than or equal"),
    ('[schedule]\ncrawl = "0 25 * * *"', "schedule.crawl", "bad cron string"),
    ('[schedule]\ndigest = "every morning"', "schedule.digest", "bad cron string"),
    ('[schedule]\ntimezone = "Asia/Hanoi_City"', "schedule.timezone", "unknown time zone"),
    ('[smtp]\nsecurity = "tls"', "smtp.security", "'starttls', 'ssl' or 'none'"),
    ('[smtp]\nsender = "not an address"', "smtp.sender", "bad e-mail address"),
    ('[site]\nbase_url = "nhandan.vn"', "site.base_url", "http(s) URL"),
    ('[storage]\ndatabase_url = "mysql://x"', "storage.database_url", "unsupported database driver 'mysql'"),
    ('[digest]\nunsubscribe_url = "https://x.org/u"', "digest.unsubscribe_url", "[web] public_url"),
    ('[web]\npublic_url = "http://bantin.example.org"', "web.public_url", "https://"),
    ('[web]\npublic_url = "https://bantin.example.org/?email=x"', "web.public_url", "no query"),
    ('[web]\npublic_url = "bantin.example.org"', "web.public_url", "https://"),
    ('[web]\nsecret = "in the file"', "web.secret", "unknown key"),
    ('[[topics]]\nname = "A"\nquery = "x"\n[[topics]]\nname = "a"\nquery = "y"', "topics[1].name", "duplicate topic"),
    ('[[topics]]\nname = "A"\nquery = "(x"', "topics[0].query", "position"),
    ('[[topics]]\nname = "A"\nquery = "x"\naccents = "none"', "topics[0].accents", "'auto', 'exact' or 'fold'"),
    ('[[topics]]\nname = "A"', "topics[0].query", "required key is missing"),
    ('[[recipients]]\nemail = "reader@"', "recipients[0].email", "bad e-mail address"),
    (
        '[[recipients]]\nemail = "a@example.org"\n[[recipients]]\nemail = "A@example.org"',
        "recipients[1].email",
        "duplicate recipient",
    ),
    (
        '[[topics]]\nname = "A"\nquery = "x"\n[[recipients]]\nemail = "a@example.org"\ntopics = ["B"]',
        "recipients[0].topics",
        "unknown topic 'B'",
    ),
    ('[smtp]\nhost = "mail.example.org"\nsecurity = "none"\nusername = "u"', "smtp.security", "unencrypted"),
    ("[crawl\n", None, "not valid TOML"),
]


@pytest.mark.parametrize("text, key, message", BAD, ids=[b[1] or "toml" for b in BAD])
def test_invalid_config_names_file_key_and_problem(text, key, message):
    with pytest.raises(ConfigError) as caught:
        parse_config(text, path="bantin.toml")
    error = caught.value
    assert error.exit_code == 2
    assert error.key == key
    assert message in str(error)
    assert str(error).startswith("bantin.toml: ")


def test_web_public_url_and_secret_from_environment_or_file(tmp_path, monkeypatch):
    assert parse_config('[web]\npublic_url = "http://127.0.0.1:8080/"').web.public_url == "http://127.0.0.1:8080"
    assert (
        parse_config('[web]\npublic_url = "https://example.org/bantin/"').web.public_url == "https://example.org/bantin"
    )
    web = parse_config('[web]\npublic_url = "https://example.org"\nsecret_env = "MY_WEB_SECRET"').web
    monkeypatch.delenv("MY_WEB_SECRET", raising=False)
    assert web.secret() is None
    monkeypatch.setenv("MY_WEB_SECRET", "short")
    with pytest.raises(ConfigError, match="web.secret_env: the secret is too short"):
        web.secret()
    monkeypatch.setenv("MY_WEB_SECRET", "k" * 40)
    assert web.secret() == b"k" * 40
    secret_file = tmp_path / "secret"
    secret_file.write_text("f" * 40 + "\n")
    from_file = parse_config(f'[web]\npublic_url = "https://example.org"\nsecret_file = "{secret_file}"').web
    assert from_file.secret() == b"f" * 40
    with pytest.raises(ConfigError, match="web.secret_file: cannot read"):
        parse_config(f'[web]\nsecret_file = "{tmp_path / "missing"}"').web.secret()


def test_search_order_flag_then_env_then_cwd_then_user_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    user_dir = tmp_path / "xdg" / "bantin"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert find_config_path() == (None, False)
    user_dir.mkdir(parents=True)
    (user_dir / "bantin.toml").write_text("")
    assert find_config_path()[0] == user_dir / "bantin.toml"
    (tmp_path / "bantin.toml").write_text("")
    assert find_config_path()[0] == tmp_path / "bantin.toml"
    monkeypatch.setenv("BANTIN_CONFIG", str(tmp_path / "env.toml"))
    assert find_config_path() == (tmp_path / "env.toml", True)
    assert find_config_path("flag.toml") == (Path("flag.toml"), True)


def test_named_file_must_exist(tmp_path):
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_config(tmp_path / "missing.toml")


def test_defaults_without_any_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config()
    assert config.path is None
    assert config == Config()
    assert config.storage.url.startswith("sqlite:///")


def test_password_comes_from_environment_or_file(tmp_path, monkeypatch):
    config = parse_config('[smtp]\npassword_env = "X_PASS"')
    assert config.smtp.password() is None
    monkeypatch.setenv("X_PASS", "s3cret")
    assert config.smtp.password() == "s3cret"
    secret = tmp_path / "pw"
    secret.write_text("from-file\n")
    config = parse_config(f'[smtp]\npassword_file = "{secret}"')
    assert config.smtp.password() == "from-file"


@pytest.mark.parametrize("command", [["crawl"], ["articles", "list"], ["status"]])
def test_cli_refuses_bad_config_with_exit_2_and_one_line(tmp_path, command):
    path = tmp_path / "bantin.toml"
    path.write_text('[crawl]\nconcurrency = "fast"\n', encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "crawler", "--config", str(path), *command],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"bantin: error: {path}: crawl.concurrency: Input should be a valid integer (got 'fast')"
    ]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "argv, message",
    [
        (["crawl", "--since", "2026-02-30"], "Invalid value for '--since'"),
        (["crawl", "--time-limit", "0"], "Invalid value for '--time-limit'"),
        (["articles", "list", "--bogus"], "No such option '--bogus'"),
        (["nonsense"], "No such command 'nonsense'"),
    ],
)
def test_usage_errors_are_one_line_with_exit_2(argv, message):
    result = subprocess.run([sys.executable, "-m", "crawler", *argv], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bantin: error: ") and message in lines[0]


def test_init_writes_where_told(tmp_path):
    path = tmp_path / "conf" / "bantin.toml"
    database = tmp_path / "data" / "bantin.sqlite3"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "crawler",
            "init",
            "--config",
            str(path),
            "--site-url",
            "http://127.0.0.1:8000",
            "--database-url",
            f"sqlite:///{database}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    config = load_config(path)
    assert config.site.base_url == "http://127.0.0.1:8000"
    assert database.exists()
    again = subprocess.run(
        [sys.executable, "-m", "crawler", "--config", str(path), "init"], capture_output=True, text=True, timeout=60
    )
    assert again.returncode == 2 and "already exists" in again.stderr


@pytest.mark.parametrize(
    "text, key",
    [
        ('[[topics]]\nname = "A\\r\\nBcc: x@example.org"\nquery = "a"', "topics[0].name"),
        ('[[recipients]]\nemail = "a@example.org"\nname = "An\\nBcc: x@example.org"', "recipients[0].name"),
        ('[smtp]\nsender = "X\\r\\nBcc: y@example.org <a@example.org>"', "smtp.sender"),
    ],
)
def test_header_values_with_line_breaks_are_refused_at_load(text, key):
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert caught.value.key == key and "single line" in str(caught.value)


@pytest.mark.parametrize("argv", [[], ["articles"], ["topics"]])
def test_a_group_alone_prints_its_help(argv):
    result = subprocess.run([sys.executable, "-m", "crawler", *argv], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert result.stdout.startswith("Usage: bantin") and result.stderr == ""


# Every break str.splitlines() knows: the set must not drift from Python's.
SPLITLINES_BREAKS = [chr(code) for code in range(0x110000) if len(f"a{chr(code)}b".splitlines()) > 1]


def test_the_line_break_table_is_exactly_what_splitlines_breaks_at():
    from crawler.config import LINE_BREAKS

    assert set(SPLITLINES_BREAKS) == LINE_BREAKS - {"\x00"}


@pytest.mark.parametrize("char", SPLITLINES_BREAKS, ids=[f"U+{ord(c):04X}" for c in SPLITLINES_BREAKS])
@pytest.mark.parametrize(
    "text, key",
    [
        ('[[topics]]\nname = "A{c}B"\nquery = "a"', "topics[0].name"),
        ('[[recipients]]\nemail = "a@example.org"\nname = "An{c}Bcc"', "recipients[0].name"),
        ('[smtp]\nsender = "X{c}Y <a@example.org>"', "smtp.sender"),
        ('[crawl]\nuser_agent = "bot{c}X-Evil: 1"', "crawl.user_agent"),
        ('[digest]\nunsubscribe_url = "https://example.org/u{c}x"', "digest.unsubscribe_url"),
        ('[site]\ncategory_feeds = ["kinhte-1185", "a{c}b-2"]', "site.category_feeds"),
    ],
)
def test_every_unicode_line_break_in_a_one_line_value_is_refused_at_load(char, text, key):
    escaped = f"\\u{ord(char):04x}"
    with pytest.raises(ConfigError) as caught:
        parse_config(text.replace("{c}", escaped), path="bantin.toml")
    assert caught.value.exit_code == 2 and caught.value.key == key
    assert "single line" in str(caught.value) and len(str(caught.value).splitlines()) == 1


def test_a_query_may_span_lines():
    config = parse_config('[[topics]]\nname = "A"\nquery = """"Quảng Ninh"\nOR CNHT"""')
    assert "\n" in config.topics[0].query


@pytest.mark.parametrize(
    "url, message",
    [
        ("sqlite://", "in-memory"),
        ("sqlite:///:memory:", "in-memory"),
        ("sqlite:///file::memory:?uri=true", "in-memory"),
        ("sqlite:///file:x?mode=memory&uri=true", "in-memory"),
        ("postgresql+asyncpg://u@127.0.0.1/db", "unsupported database driver 'postgresql+asyncpg'"),
        ("postgresql+psycopg_async://u@127.0.0.1/db", "unsupported database driver"),
        ("sqlite+aiosqlite:///x.sqlite3", "unsupported database driver 'sqlite+aiosqlite'"),
        ("postgresql+psycopg2://u@127.0.0.1/db", "unsupported database driver"),
        ("oracle://u@h/db", "unsupported database driver 'oracle'"),
    ],
)
def test_a_database_that_cannot_work_is_refused_at_load(url, message):
    with pytest.raises(ConfigError) as caught:
        parse_config(f'[storage]\ndatabase_url = "{url}"')
    assert caught.value.key == "storage.database_url" and message in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///x.sqlite3",
        "sqlite+pysqlite:///x.sqlite3",
        "postgresql://u@127.0.0.1/db",
        "postgresql+psycopg://u@127.0.0.1/db",
    ],
)
def test_supported_databases_load(url):
    assert parse_config(f'[storage]\ndatabase_url = "{url}"').storage.database_url == url


@pytest.mark.parametrize("key, cron", [("crawl", "0 6 31 2 *"), ("digest", "0 6 30 2 *"), ("crawl", "0 6 31 4,6 *")])
def test_a_cron_that_never_fires_is_refused(key, cron):
    with pytest.raises(ConfigError) as caught:
        parse_config(f'[schedule]\n{key} = "{cron}"')
    assert caught.value.key == f"schedule.{key}" and "never fires" in str(caught.value)


def test_a_rare_cron_is_fine():
    assert parse_config('[schedule]\ncrawl = "0 6 29 2 *"').schedule.crawl == "0 6 29 2 *"


def test_cli_names_the_key_of_a_configuration_that_cannot_work(tmp_path):
    path = tmp_path / "bantin.toml"
    path.write_text('[storage]\ndatabase_url = "sqlite://"\n', encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "crawler", "--config", str(path), "crawl"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"bantin: error: {path}: storage.database_url: an in-memory SQLite database")

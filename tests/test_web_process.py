"""`bantin web`: refused without its secrets (one line, exit 2), served by uvicorn on loopback, and its unit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from crawler.web.security import password_matches
from tests.cli_support import run
from tests.digest_support import PUBLIC_URL, SECRET_ENV, free_port
from tests.web_support import ADMIN_HASH_ENV, ADMIN_PASSWORD, web_config_text


def write(tmp_path: Path, web: str) -> Path:
    path = tmp_path / "bantin.toml"
    path.write_text(web_config_text(f"sqlite:///{tmp_path / 'db.sqlite3'}", web=web), encoding="utf-8")
    return path


def test_a_missing_secret_is_refused_at_start_with_one_line(tmp_path, capsys):
    config = write(
        tmp_path,
        f'[web]\npublic_url = "{PUBLIC_URL}"\nsecret_env = "BANTIN_TEST_NO_SUCH_SECRET"\n'
        f'admin_password_env = "{ADMIN_HASH_ENV}"\n',
    )
    status, out, err = run(capsys, "--config", str(config), "web", "--port", str(free_port()))
    assert status == 2
    assert err.count("\n") == 1 and "signing secret" in err and "BANTIN_TEST_NO_SUCH_SECRET" in err
    assert os.environ[SECRET_ENV] not in err + out


def test_a_missing_admin_credential_is_refused_at_start_with_one_line(tmp_path, capsys):
    config = write(
        tmp_path,
        f'[web]\npublic_url = "{PUBLIC_URL}"\nsecret_env = "{SECRET_ENV}"\n'
        'admin_password_env = "BANTIN_TEST_NO_SUCH_HASH"\n',
    )
    status, _, err = run(capsys, "--config", str(config), "web")
    assert status == 2
    assert err.count("\n") == 1 and "admin credential" in err and "--hash-password" in err


def test_an_admin_password_that_is_not_an_argon2_hash_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BANTIN_TEST_PLAIN", "hunter2hunter2")
    config = write(tmp_path, f'[web]\nsecret_env = "{SECRET_ENV}"\nadmin_password_env = "BANTIN_TEST_PLAIN"\n')
    status, _, err = run(capsys, "--config", str(config), "web")
    assert status == 2 and "not an argon2 hash" in err and "hunter2" not in err


def test_hash_password_prints_an_argon2_hash_of_what_was_typed(tmp_path, capsys, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(f"{ADMIN_PASSWORD}\n{ADMIN_PASSWORD}\n"))
    status, out, _ = run(capsys, "web", "--hash-password")
    assert status == 0
    digest = out.strip()
    assert digest.startswith("$argon2id$") and password_matches(digest, ADMIN_PASSWORD)
    assert not password_matches(digest, ADMIN_PASSWORD + "x")


def test_service_unit_web_runs_bantin_web_on_loopback(tmp_path, capsys):
    config = write(tmp_path, f'[web]\nsecret_env = "{SECRET_ENV}"\nadmin_password_env = "{ADMIN_HASH_ENV}"\n')
    status, unit, _ = run(capsys, "--config", str(config), "service", "unit", "--web")
    assert status == 0
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    assert exec_start.endswith(f"--config {config.resolve()} web --host 127.0.0.1 --port 8080")
    assert "bantin-web.service" in unit and "[Install]" in unit and "ExecReload" not in unit
    status, system_unit, _ = run(capsys, "--config", str(config), "service", "unit", "--system", "--web", "9000")
    assert status == 0 and "--port 9000" in system_unit and "User=" in system_unit
    # The scheduler's own unit is unchanged by the option's existence.
    status, serve_unit, _ = run(capsys, "--config", str(config), "service", "unit")
    assert status == 0 and " serve" in serve_unit and " web " not in serve_unit
    status, out, err = run(capsys, "--config", str(config), "service", "unit", "--web", "--worker")
    assert status == 2 and "--web and --worker" in err and out == ""


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_bantin_web_serves_on_loopback_and_stops_on_sigterm(tmp_path, workers):
    config = write(
        tmp_path,
        f'[web]\npublic_url = "{PUBLIC_URL}"\nsecret_env = "{SECRET_ENV}"\nadmin_password_env = "{ADMIN_HASH_ENV}"\n',
    )
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "crawler",
            "--config",
            str(config),
            "web",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        answer = None
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
                    answer = (response.status, response.read().decode(), dict(response.headers))
                break
            except OSError:
                if process.poll() is not None:
                    break
                time.sleep(0.1)
        assert process.stderr is not None  # stderr=PIPE
        assert answer is not None, process.stderr.read() if process.poll() is not None else "no answer"
        assert answer[0] == 200 and answer[1] == "ok\n"
        assert "default-src 'none'" in answer[2]["content-security-policy"]
        assert "server" not in {name.lower() for name in answer[2]}
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
            assert response.status == 200
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    # uvicorn shuts down cleanly, then re-raises the signal so that a process manager sees why it stopped.
    assert process.returncode in (0, -signal.SIGTERM)
    assert "Finished server process" in stderr

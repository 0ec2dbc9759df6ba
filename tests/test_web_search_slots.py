"""Searches beyond the process's limit wait their turn while pages and feeds go on being served."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import anyio
import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse

from crawler.web import app as web_app


def _request(app, query: str) -> Request:
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/admin/articles",
        "query_string": query.encode(),
        "headers": [],
        "app": app,
    }
    return Request(scope)


@pytest.mark.parametrize("slots", [1, 2])
def test_searches_beyond_the_limit_wait_while_a_page_is_served(monkeypatch, slots):
    monkeypatch.setattr(web_app, "SEARCHES_AT_ONCE", slots)
    app = SimpleNamespace(state=SimpleNamespace(web=None))
    release = threading.Event()
    started: list[str] = []

    def handler(web, request, form):
        asked = request.query_params.get("q") or "page"
        started.append(asked)
        if asked.startswith("held"):
            assert release.wait(30), "never released"
        return PlainTextResponse(asked)

    endpoint = web_app.view(handler, searching=True)

    async def ask(query: str, answers: dict[str, bytes]) -> None:
        answers[query] = (await endpoint(_request(app, query))).body

    async def scenario() -> tuple[list[str], dict[str, bytes]]:
        answers: dict[str, bytes] = {}
        async with anyio.create_task_group() as group:
            for number in range(slots):
                group.start_soon(ask, f"q=held{number}", answers)
            with anyio.fail_after(30):
                while len(started) < slots:
                    await anyio.sleep(0.01)
            group.start_soon(ask, "q=waiting", answers)
            with anyio.fail_after(30):
                # The extra search is either running (no limit) or queued on the limiter.
                while "waiting" not in started and not app.state.search_slots.statistics().tasks_waiting:
                    await anyio.sleep(0.01)
            await ask("", answers)
            seen = list(started)
            release.set()
        return seen, answers

    seen, answers = anyio.run(scenario)
    # The page was served while every slot was held, and the search beyond them had not started.
    assert "page" in seen and "waiting" not in seen
    assert answers["q=waiting"] == b"waiting" and answers[""] == b"page"


def test_a_request_without_a_query_is_no_search(monkeypatch):
    monkeypatch.setattr(web_app, "SEARCHES_AT_ONCE", 1)
    app = SimpleNamespace(state=SimpleNamespace(web=None))
    endpoint = web_app.view(lambda web, request, form: PlainTextResponse("ok"), searching=True)
    assert anyio.run(endpoint, _request(app, "q=%20%20")).body == b"ok"
    assert not hasattr(app.state, "search_slots")

"""`bantin worker`: a procrastinate worker running bantin's jobs on this machine.

It holds a ``worker:<id>`` lease for as long as it runs (its host, pid, queues,
procrastinate worker id and current jobs: what `bantin status` shows, and what
the sweep checks a running job against). procrastinate's own heartbeat says
when it stalled. SIGTERM/SIGINT: no new jobs; running crawls are stopped
cleanly (their rows say `interrupted`) and queued again for another worker;
a digest sender finishes the message it is sending and gives its other rows
back. A SIGKILLed worker's crawl children see their lifeline close and stop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from crawler import __version__
from crawler.config import Config
from crawler.locks import hold_lease, this_host
from crawler.store import Database
from scheduler.cluster import queue
from scheduler.cluster.tasks import WORKER_LEASE_PREFIX, Runtime
from scheduler.jobs import KILL_GRACE_SECONDS, log_event

log = logging.getLogger("bantin.cluster")


def parse_queues(text: str) -> list[str]:
    """ "crawl,digest" -> ["crawl", "digest"]; ValueError naming an unknown queue."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in queue.QUEUES]
    if unknown or not names:
        raise ValueError(f"unknown queue {', '.join(unknown) or repr(text)} (queues: {', '.join(queue.QUEUES)})")
    return list(dict.fromkeys(names))


def run_worker(
    config: Config,
    database: Database,
    *,
    queues: Sequence[str] = queue.QUEUES,
    concurrency: int | None = None,
    name: str | None = None,
    crawl_command: Callable[[str, int], Sequence[str]] | None = None,
    install_signals: bool = True,
) -> int:
    """Run until SIGTERM/SIGINT; returns the exit status."""
    queue.require_cluster(config)
    cluster = config.cluster
    concurrency = concurrency or cluster.concurrency
    name = name or f"{this_host()}:{os.getpid()}"
    app = queue.make_app(database.url, pool_size=concurrency + 4)
    # Deferred once per period by whichever worker's deferrer gets there first (procrastinate's unique row).
    app.periodic_registry.register_task(
        task=app.tasks[queue.SWEEP_TASK], cron=cluster.sweep_cron, periodic_id="sweep", configure_kwargs={}
    )
    runtime = Runtime(config=config, database=database, name=name, app=app, crawl_command=crawl_command)
    info = {
        "purpose": "`bantin worker`",
        "version": __version__,
        "host": this_host(),
        "pid": os.getpid(),
        "name": name,
        "queues": list(queues),
        "concurrency": concurrency,
        "running": [],
    }
    lease_name = f"{WORKER_LEASE_PREFIX}{uuid.uuid4().hex[:16]}"
    with hold_lease(
        database,
        lease_name,
        ttl=timedelta(seconds=cluster.stalled_after_seconds),
        info=info,
        heartbeat_seconds=cluster.heartbeat_seconds,
    ) as lease:
        runtime.lease = lease
        log_event("worker", "started", name=name, queues=",".join(queues), concurrency=concurrency, version=__version__)
        asyncio.run(_work(app, runtime, list(queues), concurrency, install_signals))
    log_event("worker", "stopped", outcome="ok", name=name)
    return 0


async def _work(app, runtime: Runtime, queues: list[str], concurrency: int, install_signals: bool) -> None:
    from procrastinate.worker import Worker

    cluster = runtime.config.cluster
    loop = asyncio.get_running_loop()
    # Synchronous tasks run in the loop's default executor: a thread per job slot, the sweep's, the lease's.
    loop.set_default_executor(ThreadPoolExecutor(concurrency + 3, thread_name_prefix="job"))
    async with app.open_async():
        options = dict(
            app=app,
            install_signal_handlers=False,
            additional_context={"bantin": runtime},
            update_heartbeat_interval=cluster.heartbeat_seconds,
            stalled_worker_timeout=cluster.stalled_after_seconds,
            fetch_job_polling_interval=min(5.0, cluster.heartbeat_seconds),
            # Long enough for a crawl child to stop cleanly after SIGTERM, a sender to finish its message.
            shutdown_graceful_timeout=KILL_GRACE_SECONDS + 30,
        )
        # Two procrastinate workers: the sweep never waits for a free job slot, and never takes one.
        workers = [
            Worker(queues=queues, name=runtime.name, concurrency=concurrency, **options),
            # A sweep that did its work leaves nothing worth keeping.
            Worker(
                queues=[queue.MAINTENANCE_QUEUE],
                name=f"{runtime.name}/sweep",
                concurrency=1,
                delete_jobs="successful",
                **options,
            ),
        ]

        def stop(signum: int) -> None:
            log_event("worker", "stopping", reason=signal.Signals(signum).name, name=runtime.name)
            runtime.stopping.set()
            for worker in workers:
                worker.stop()

        if install_signals:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, stop, signum)
        publisher = asyncio.create_task(_publish_worker_ids(workers, runtime))
        try:
            await asyncio.gather(*(worker.run() for worker in workers))
        finally:
            publisher.cancel()
            if install_signals:
                for signum in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(signum)


async def _publish_worker_ids(workers, runtime: Runtime) -> None:
    """Once procrastinate registered them, the ids go into the lease (the sweep's cross-check)."""
    while any(worker.worker_id is None for worker in workers):
        await asyncio.sleep(0.05)
    if runtime.lease is not None:
        await asyncio.to_thread(runtime.lease.update_info, worker_ids=[worker.worker_id for worker in workers])

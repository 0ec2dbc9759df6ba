"""Cluster mode: several machines on one PostgreSQL database, the work queued with procrastinate.

`bantin serve` (one of them holds the service lease) queues due crawls and
digests (`scheduler.cluster.planner`); `bantin worker` on every machine runs them
(`scheduler.cluster.worker`, tasks in `scheduler.cluster.tasks`). PostgreSQL stays the one system
of record: procrastinate's tables live beside bantin's (migration 0005), each
crawl is the same `bantin crawl --site ID` child as on one machine, holding the
site's lease, and digests go through the same outbox, claimed row by row.
"""

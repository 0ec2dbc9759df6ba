"""Digest e-mails: select what each reader is owed, render it, deliver it exactly once.

``reports.delivery`` holds the entry points (``run_digest``, ``build_previews``);
this package imports nothing at start-up so the CLI stays fast.
"""

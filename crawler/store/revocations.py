"""Admin sessions ended by logging out: written at logout, read on every admin request, pruned once expired.

The session cookie is signed and stateless (crawler/web/security.py); only this
table makes a copy of it worthless before it expires, in every web process
that shares the database.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crawler.store.models import RevokedSession

# A revocation outlives its cookie's expiry by this much before it is pruned: the web processes
# behind one proxy may run on machines whose clocks disagree, and one whose clock lags must
# not accept the cookie again because another already forgot it was revoked.
PRUNE_AFTER = timedelta(hours=1)


def revoke_session(session: Session, sid: str, *, expires_at: datetime, now: datetime) -> None:
    """Refuse the session `sid` from now on; revoking it again changes nothing. Prunes expired revocations."""
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    # Two logouts of one session at once (a double click, two tabs) must both succeed.
    session.execute(
        module.insert(RevokedSession)
        .values(sid=sid, expires_at=expires_at, revoked_at=now)
        .on_conflict_do_nothing(index_elements=[RevokedSession.sid])
    )
    session.execute(delete(RevokedSession).where(RevokedSession.expires_at < now - PRUNE_AFTER))


# Built once: every admin request asks it, and building a statement costs more than SQLite answering it.
_REVOKED = select(RevokedSession.sid).where(RevokedSession.sid == bindparam("sid"))


def session_revoked(session: Session, sid: str) -> bool:
    return session.scalar(_REVOKED, {"sid": sid}) is not None

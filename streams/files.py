"""Files the project writes: atomically, and readable only by whom they are for.

Stores, rejects files, exports and reports hold pseudonymous personal data or figures about it, so
they are created with an exact mode whatever the umask: owner only (0600) for what holds event
data (the store, rejects), owner and group (0640) for exports, reports and metrics files.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import IO

OWNER_ONLY = 0o600
OWNER_AND_GROUP = 0o640


def atomic_write(path: Path, data: bytes, *, mode: int = OWNER_AND_GROUP) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same directory and ``os.replace``.

    The temporary file gets exactly ``mode``, is flushed and fsynced before the move; on any error
    it is removed and the target is left as it was, so a reader sees the old file or the new one.
    """
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)  # the umask may have taken bits away: make the mode exact
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def open_private(path: Path, mode: int = OWNER_ONLY) -> IO[bytes]:
    """``path`` opened for writing (truncated), with exactly ``mode``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    os.fchmod(fd, mode)
    return os.fdopen(fd, "wb")

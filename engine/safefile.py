"""Replacing a user's file so that a kill or a full disk never leaves it half written.

The new content goes to a temporary file in the same folder, is flushed to disk
(``fsync``) and renamed over the target with ``os.replace`` (atomic on POSIX and
Windows within one file system); on any error the temporary file is removed and the
previous file is left as it was.
"""
from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Iterator

logger = logging.getLogger(__name__)


def temp_name(path: str | os.PathLike) -> Path:
    """A temporary name beside ``path``: hidden, with this process's id."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def fsync_path(path: str | os.PathLike) -> None:
    """Flush a written file (or, on POSIX, a folder's entries) to disk."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) if Path(path).is_dir() else os.O_RDONLY
    try:
        fd = os.open(path, flags)
    except OSError:           # Windows cannot open folders; the rename is durable there
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def replacing(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path`` atomically.

    Examples
    --------
    >>> with replacing("targets.ecsv") as tmp:          # doctest: +SKIP
    ...     table.write(tmp, format="ascii.ecsv")
    """
    path = Path(path)
    tmp = temp_name(path)
    try:
        yield tmp
        fsync_path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_path(path.parent if str(path.parent) else ".")

"""Resumable chunk results of long stages, kept beside the store.

A chunked stage (interpolation, encoding) writes each finished chunk to
``<store>.work/<stage>-<key>/chunk_<start>.npz`` (written to a temporary name that
``done_starts`` never matches, ``partial_<start>.<pid>.npz``, and renamed, so a kill
never leaves a half chunk and a left-over temporary file never breaks a resume). ``key`` is the hash of the stage
config and inputs: a changed config never reuses stale chunks. When all chunks are
done the stage merges them into the store in one atomic group commit and removes
the directory. The store itself is only opened for writing during that commit, so
readers (the GUI) are never blocked for long and a kill never corrupts it.
"""
from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import shutil
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import zipfile

import numpy as np

from .errors import StageError

logger = logging.getLogger(__name__)

#: the only names that count as finished chunks; anything else in the folder is ignored
_CHUNK_NAME = re.compile(r"chunk_(\d{1,18})\.npz")


class ChunkCache:
    """Finished chunks of one stage run.

    Parameters
    ----------
    store_path : path of the store
    stage : stage name
    key : hash of the stage config and inputs
    """

    def __init__(self, store_path: str | os.PathLike, stage: str, key: str):
        self.dir = Path(str(store_path) + ".work") / f"{stage}-{key}"

    def _file(self, start: int) -> Path:
        return self.dir / f"chunk_{start:010d}.npz"

    def has(self, start: int) -> bool:
        return self._file(start).exists()

    def done_starts(self) -> set[int]:
        if not self.dir.exists():
            return set()
        starts = set()
        for p in self.dir.iterdir():
            m = _CHUNK_NAME.fullmatch(p.name)
            if m:
                starts.add(int(m.group(1)))
            elif not p.name.startswith("partial_"):
                logger.warning("%s: ignoring a stray file in the work folder", p)
        return starts

    def save(self, start: int, **arrays: np.ndarray) -> None:
        """Write one finished chunk: temporary file, fsync, rename."""
        self.dir.mkdir(parents=True, exist_ok=True)
        final = self._file(start)
        tmp = final.with_name(f"partial_{start:010d}.{os.getpid()}.npz")
        try:
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def load(self, start: int) -> dict[str, np.ndarray]:
        """One finished chunk; a damaged one is removed (the next run redoes it)."""
        path = self._file(start)
        try:
            with np.load(path, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            path.unlink(missing_ok=True)
            raise StageError(f"{path}: damaged work file ({exc}); removed it, run the "
                             "command again to redo that chunk") from exc

    def iter_chunks(self) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
        for start in sorted(self.done_starts()):
            yield start, self.load(start)

    def clear(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
        parent = self.dir.parent
        if parent.exists() and not any(parent.iterdir()):
            parent.rmdir()


def chunk_starts(n: int, size: int) -> list[int]:
    return list(range(0, n, max(1, size)))


# -- one stage run at a time per store ---------------------------------------------------
_HELD: dict[str, list] = {}          # lock file (real path) -> [fd, depth] in this process
_HELD_GUARD = threading.Lock()


def lock_path(store_path: str | os.PathLike) -> Path:
    """``<store>.lock``: the advisory lock file of the stage runs on a store."""
    return Path(str(store_path) + ".lock")


@contextlib.contextmanager
def stage_lock(store_path: str | os.PathLike, stage: str) -> Iterator[None]:
    """Hold the store's stage lock for a whole stage run, or refuse at once.

    Two stage runs on one store would share (and clear) one work folder; the second
    one is refused with a one-line :class:`~engine.errors.StageError` naming the
    holder. An ``flock`` lock is released by the kernel when its holder dies, so a
    killed run never leaves the store locked. Re-entrant within a process (``run``
    holds it while its stages take it again).
    """
    path = lock_path(store_path)
    key = os.path.realpath(path)
    with _HELD_GUARD:
        held = _HELD.get(key)
        if held is not None:
            held[1] += 1
        else:
            _HELD[key] = [_acquire(path, store_path, stage), 1]
    try:
        yield
    finally:
        with _HELD_GUARD:
            held = _HELD[key]
            held[1] -= 1
            if held[1] == 0:
                del _HELD[key]
                if held[0] is not None:
                    os.close(held[0])


def _acquire(path: Path, store_path: Any, stage: str) -> int | None:
    try:
        import fcntl
    except ImportError:                     # no flock on this platform: no lock
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)   # ingest may create the store's folder
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StageError(f"{path}: cannot create the store's lock file "
                         f"({exc.strerror or exc})") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.read(fd, 200).decode("utf-8", "replace").strip() or "another process"
        os.close(fd)
        raise StageError(f"{store_path}: {holder} is running on this store; wait for it "
                         "to finish (or stop it) and run the command again") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"pid {os.getpid()} ({stage})".encode())
    return fd


def locked_stage(stage: str) -> Callable:
    """Decorator: a stage generator ``fn(store_path, ...)`` holds :func:`stage_lock`."""
    def deco(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(store_path, *args, **kwargs):
            with stage_lock(store_path, stage):
                return (yield from fn(store_path, *args, **kwargs))
        return wrapper
    return deco

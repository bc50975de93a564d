"""Resumable chunk results of long stages, kept beside the store.

A chunked stage (interpolation, encoding) writes each finished chunk to
``<store>.work/<stage>-<key>/chunk_<start>.npz`` (written to a temporary name and
renamed, so a kill never leaves a half chunk). ``key`` is the hash of the stage
config and inputs: a changed config never reuses stale chunks. When all chunks are
done the stage merges them into the store in one atomic group commit and removes
the directory. The store itself is only opened for writing during that commit, so
readers (the GUI) are never blocked for long and a kill never corrupts it.
"""
from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Iterator

import numpy as np

logger = logging.getLogger(__name__)


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
        return {int(p.stem.split("_")[1]) for p in self.dir.glob("chunk_*.npz")}

    def save(self, start: int, **arrays: np.ndarray) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        final = self._file(start)
        tmp = final.with_name(final.stem + ".tmp.npz")
        np.savez(tmp, **arrays)
        os.replace(tmp, final)

    def load(self, start: int) -> dict[str, np.ndarray]:
        with np.load(self._file(start), allow_pickle=False) as z:
            return {k: z[k] for k in z.files}

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

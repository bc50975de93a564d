"""Helpers of the reliability tests: the CLI in a subprocess, under a file-size limit
or in a small file system, and process-group kills."""
from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Iterator, Sequence

REPO = Path(__file__).resolve().parents[2]


def env() -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3",
            "PYTHONWARNINGS": "ignore", "CUDA_VISIBLE_DEVICES": ""}


def engine(args: Sequence[str], fsize: int | None = None, timeout: float = 300,
           cwd: str | os.PathLike | None = None) -> subprocess.CompletedProcess:
    """Run ``pvsvet-engine ARGS`` in a new process group; ``fsize`` bytes: the largest
    file it may write (RLIMIT_FSIZE: writes past it fail with EFBIG, as on a full disk)."""
    def limit():
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    return subprocess.run([sys.executable, "-m", "engine", *map(str, args)], env=env(),
                          capture_output=True, text=True, timeout=timeout, preexec_fn=limit,
                          start_new_session=True, cwd=cwd)


def spawn(args: Sequence[str], **kw) -> subprocess.Popen:
    """Start ``pvsvet-engine ARGS`` in its own process group (to kill it whole)."""
    return subprocess.Popen([sys.executable, "-m", "engine", *map(str, args)], env=env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, **kw)


def kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def one_line_error(res: subprocess.CompletedProcess) -> str:
    """The error line of a refused command (exit 1, no traceback, one error line;
    progress bars and log lines aside)."""
    assert "Traceback" not in res.stderr, res.stderr
    assert res.returncode == 1, (res.returncode, res.stderr)
    lines = [ln.strip() for ln in res.stderr.replace("\r", "\n").splitlines()
             if ln.startswith(("pvsvet-engine", "pvsvet:", "pvsvet "))]
    assert len(lines) == 1, res.stderr
    return lines[0]


@contextlib.contextmanager
def small_filesystem(size_kb: int, base: Path) -> Iterator[Path]:
    """A real tmpfs of ``size_kb`` KiB mounted under ``base`` (needs root: skips otherwise)."""
    import pytest

    where = base / f"fs-{uuid.uuid4().hex[:8]}"
    where.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("a small file system needs root (mount -t tmpfs)")
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(where)],
                         capture_output=True, text=True)
    if res.returncode:
        pytest.skip(f"cannot mount a tmpfs: {res.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)

"""Executors: same results everywhere, bounded in-flight work, errors name the task, cancel."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from engine.errors import StageError
from engine.executors import (DaskExecutor, ProcessExecutor, SerialExecutor, TaskError,
                              describe_key, make_executor)


def square_rows(arr: np.ndarray) -> np.ndarray:
    return (arr ** 2).sum(axis=1)


def fail_on_huge(arr: np.ndarray) -> np.ndarray:
    if (np.abs(arr) > 100).any():
        raise ValueError("flux out of range in chunk")
    return arr.sum(axis=1)


def slow_pid(arg: float) -> int:
    time.sleep(arg)
    return os.getpid()


def die(arg: int) -> int:
    os._exit(3)


def _items(n_chunks: int = 6, size: int = 50):
    rng = np.random.default_rng(1)
    for start in range(0, n_chunks * size, size):
        yield (start, start + size), rng.normal(size=(size, 8))


def _collect(executor, fn, items):
    return {key: res for key, res in executor.imap_unordered(fn, items)}


@pytest.fixture(scope="module")
def dask_executor():
    ex = DaskExecutor(local_workers=2)
    yield ex
    ex.close()


def test_serial_and_processes_agree():
    ref = _collect(SerialExecutor(), square_rows, _items())
    with ProcessExecutor(2) as ex:
        got = _collect(ex, square_rows, _items())
    assert set(got) == set(ref) and len(ref) == 6
    for key in ref:
        np.testing.assert_allclose(got[key], ref[key])


def test_dask_agrees_and_checks_engine_on_workers(dask_executor):
    assert dask_executor.workers == 2
    ref = _collect(SerialExecutor(), square_rows, _items())
    got = _collect(dask_executor, square_rows, _items())
    assert set(got) == set(ref)
    for key in ref:
        np.testing.assert_allclose(got[key], ref[key])


@pytest.mark.parametrize("make", [SerialExecutor, lambda: ProcessExecutor(2), "dask"])
def test_task_error_names_the_object_range(make, dask_executor):
    ex = dask_executor if make == "dask" else make()
    items = list(_items())
    items[3] = (items[3][0], items[3][1] + 1000.0)
    with pytest.raises(TaskError, match=r"fail_on_huge failed on objects 150-199.*"
                                        r"ValueError: flux out of range") as info:
        _collect(ex, fail_on_huge, items)
    assert info.value.key == (150, 200)
    if ex is not dask_executor:
        ex.close()


def test_dead_worker_is_reported_and_pool_recovers():
    with ProcessExecutor(2) as ex:
        with pytest.raises(TaskError, match="died"):
            _collect(ex, die, [(0, 0)])
        assert _collect(ex, square_rows, _items(2)).keys() == {(0, 50), (50, 100)}


def test_in_flight_is_bounded_and_cancel_drops_pending():
    pulled = []

    def items():
        for i in range(100):
            pulled.append(i)
            yield i, 0.05

    with ProcessExecutor(2) as ex:
        gen = ex.imap_unordered(slow_pid, items())
        next(gen)
        # at most 2 tasks per worker were taken from the (lazy) item stream, plus one refill
        assert len(pulled) <= 5
        gen.close()
        t0 = time.monotonic()
    # close() waited only for the running tasks, not for the 100 queued ones
    assert time.monotonic() - t0 < 2.0
    assert len(pulled) <= 5


def test_process_workers_are_separate_processes():
    with ProcessExecutor(2) as ex:
        pids = {pid for _, pid in ex.imap_unordered(slow_pid, [(i, 0.2) for i in range(4)])}
    assert os.getpid() not in pids and len(pids) == 2


def test_pool_workers_exit_when_the_driver_is_killed(tmp_path):
    import signal
    import subprocess
    import sys

    import psutil

    script = ("import os, sys, time\n"
              "from engine.executors import ProcessExecutor\n"
              "from tests.engine.test_executors import slow_pid\n"
              "if __name__ == '__main__':\n"
              "    ex = ProcessExecutor(2)\n"
              "    print(sorted({p for _, p in ex.imap_unordered(slow_pid, [(i, 0.3) for i in range(4)])}),"
              " flush=True)\n"
              "    time.sleep(60)\n")
    path = tmp_path / "driver.py"
    path.write_text(script)
    repo = str(Path(__file__).resolve().parents[2])
    proc = subprocess.Popen([sys.executable, str(path)], stdout=subprocess.PIPE, text=True,
                            cwd=repo, env={**os.environ, "PYTHONPATH": repo})
    pids = json.loads(proc.stdout.readline())
    assert len(pids) == 2 and all(psutil.pid_exists(p) for p in pids)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    procs = [psutil.Process(p) for p in pids if psutil.pid_exists(p)]
    _, alive = psutil.wait_procs(procs, timeout=5)
    for p in alive:   # leave nothing behind even when the test fails
        p.kill()
    assert not alive


def test_make_executor_choices():
    assert isinstance(make_executor(1), SerialExecutor)
    ex = make_executor(2)
    assert isinstance(ex, ProcessExecutor) and ex.workers == 2
    with pytest.raises(StageError, match="not both"):
        make_executor(2, scheduler="tcp://127.0.0.1:1", dask_local=2)


def test_unreachable_scheduler_is_a_clear_error():
    with pytest.raises(StageError, match="cannot reach the dask scheduler at tcp://127.0.0.1:9"):
        DaskExecutor("tcp://127.0.0.1:9", timeout=2)


def test_describe_key():
    assert describe_key((10, 20)) == "objects 10-19"
    assert describe_key(2000) == "the chunk starting at object 2000"

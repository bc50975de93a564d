"""The stage protocol: stages are generators that yield :class:`Progress`.

A stage is a generator function ``stage(store_path, config, ...)`` that yields
``Progress`` at least once a second and returns a result object. Cancelling is
cooperative: the driver calls ``gen.close()``, the stage sees ``GeneratorExit``
at its current ``yield`` and must leave the store as it was (finished chunks stay
in the work cache so a rerun resumes). The CLI drives stages with tqdm
(:func:`drive`); the GUI drives them on a worker thread.
"""
from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass
from typing import Any, Generator, Iterable

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Progress:
    """One progress report of a stage.

    Parameters
    ----------
    stage : str
        Stage name (``"interpolate"``, ``"train"``, ...).
    done, total : int
        Units of work done and in all (objects, epochs, ...); ``total`` 0 if unknown.
    message : str
        Human-readable status, e.g. current losses.
    unit : str
        What is counted (``"lc"``, ``"epoch"``, ``"obj"``).
    """

    stage: str
    done: int
    total: int
    message: str = ""
    unit: str = "it"

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0


StageGen = Generator[Progress, None, Any]


def drive(gen: StageGen, show: bool = True, steps: tuple[str, ...] = ()) -> Any:
    """Run a stage generator to completion with a tqdm bar; return its result.

    Reports of the stages named in ``steps`` (e.g. the pipeline's own "which stage
    now" reports) are printed as numbered lines instead of driving a bar.
    """
    from tqdm import tqdm

    bars: dict[str, Any] = {}
    try:
        while True:
            try:
                p = next(gen)
            except StopIteration as stop:
                return stop.value
            if not show:
                continue
            if p.stage in steps:
                if p.message != "done":
                    tqdm.write(f"[{p.done + 1}/{p.total}] {p.message}", file=sys.stderr)
                continue
            bar = bars.get(p.stage)
            if bar is None:
                for b in bars.values():
                    b.close()
                bars.clear()
                bar = bars[p.stage] = tqdm(total=p.total or None, desc=p.stage, unit=p.unit,
                                           dynamic_ncols=True, leave=True)
            if p.total and bar.total != p.total:
                bar.total = p.total
            bar.n = p.done
            if p.message:
                bar.set_postfix_str(p.message, refresh=False)
            bar.refresh()
    finally:
        for b in bars.values():
            b.close()
        gen.close()


def run_quiet(gen: StageGen) -> Any:
    """Run a stage generator without output (tests, library use)."""
    return drive(gen, show=False)


class Throttle:
    """Say when at least ``interval`` seconds passed since the last report."""

    def __init__(self, interval: float = 0.5):
        self.interval = interval
        self._last = 0.0

    def __call__(self) -> bool:
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            return True
        return False


def chained(*gens: Iterable[Progress]) -> StageGen:
    """Run several stage generators one after another; return the list of results."""
    results = []
    for g in gens:
        results.append((yield from g))
    return results

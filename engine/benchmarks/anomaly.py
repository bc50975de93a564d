"""anomaly: recall of the demo's injected anomalies per space and kind, class mix, feedback.

Reads a scored demo store (one with the truth columns, after ``pvsvet-engine score STORE
--space all``) and reports, per scored space, the recall of the injected anomalies in the
top 1% and 2% of the ranking for each kind, the class mix of the top and bottom 100
against the paper's table 2, and the simulated-feedback experiment (label the best 20 by
the truth flags, re-rank with AAD, five times) against the plain forest's first 100.
The store is only read; the label journal is not touched.
"""
from __future__ import annotations

import argparse
import dataclasses
import time


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", required=True, help="a scored demo store (read only)")
    parser.add_argument("--rounds", type=int, default=5, help="feedback rounds")
    parser.add_argument("--per-round", type=int, default=20, help="objects labelled per round")
    parser.add_argument("--feedback-spaces", default="cartesian,diagnostic",
                        help="spaces to run the feedback experiment in (comma separated; "
                             "'' for none)")


def run(args: argparse.Namespace) -> dict:
    from ..anomaly import feedback_experiment, recall_report
    from ..config import ScoreConfig
    from ..errors import PvsvetError

    t0 = time.perf_counter()
    report = recall_report(args.store)
    out: dict = {"store": str(args.store), "recall_s": round(time.perf_counter() - t0, 2),
                 "meets_target": report.pop("meets_target"), "spaces": report,
                 "summary": {s: {k: v["all"]["recall"] for k, v in r["recall"].items()}
                             for s, r in report.items()}}
    feedback = {}
    for space in filter(None, (s.strip() for s in args.feedback_spaces.split(","))):
        if space not in report:
            feedback[space] = {"error": f"no /scores/{space} in {args.store}"}
            continue
        cfg = dataclasses.replace(ScoreConfig(), aad_space=space)
        t0 = time.perf_counter()
        try:
            feedback[space] = feedback_experiment(args.store, args.rounds, args.per_round, cfg)
        except PvsvetError as exc:
            feedback[space] = {"error": str(exc)}
            continue
        feedback[space]["seconds"] = round(time.perf_counter() - t0, 1)
    out["feedback"] = feedback
    return out

"""``pvsvet-engine label``: label objects, apply a CSV of labels, edit the label set, merge
a colleague's journal and resolve its conflicts. The journal itself is :mod:`engine.labels`;
this module only parses and prints (so the journal imports no CLI code)."""
from __future__ import annotations

import os

from . import label_merge
from .labels import (AUTHOR_ENV, DEFAULT_LABELS, RANK_PREFERENCE, LabelError, LabelJournal,
                     at_row, default_author, read_label_csv, score_context)
from .store import Store


def configure_label(parser) -> None:
    parser.usage = ("%(prog)s [options] STORE [ID LABEL]\n       %(prog)s merge STORE "
                    "OTHER_JOURNAL_OR_STORE\n       %(prog)s STORE --resolve ID=theirs|mine")
    parser.add_argument("store", help="the pvsvet store (.h5); or 'merge', then STORE and "
                        "a colleague's journal (.labels.sqlite) or store to merge in: their "
                        "labels are added with their author, differing ones listed as "
                        "conflicts and never overwrite yours")
    parser.add_argument("id", nargs="?", help="object id (survey id)")
    parser.add_argument("label", nargs="?",
                        help="one of the store's label set (default: "
                             + ", ".join(DEFAULT_LABELS) + "; see --label-set)")
    parser.add_argument("--note", default="", help="free-text note")
    parser.add_argument("--author", default=None,
                        help=f"who labels (default: ${AUTHOR_ENV}, else the login name)")
    parser.add_argument("--from", dest="from_file", default="",
                        help="CSV of id,label[,note] rows to apply (header optional)")
    parser.add_argument("--label-set", default=None, metavar="A,B,…",
                        help="replace the store's label set (comma-separated, in key order)")
    parser.add_argument("--conflicts", action="store_true",
                        help="list the unresolved conflicts left by merges")
    parser.add_argument("--resolve", default=None, metavar="ID=theirs|mine",
                        help="resolve a merge conflict: take their label or keep yours")
    parser.add_argument("--space", default=None,
                        help="the score space whose score and rank the label records "
                             "(default: the first scored of " + ", ".join(RANK_PREFERENCE) + ")")


def cli_label(args) -> int:
    author = default_author() if args.author is None else args.author
    if args.store == "merge" and not os.path.exists("merge"):
        if not args.id or not args.label:
            raise LabelError("label merge: give STORE and OTHER_JOURNAL_OR_STORE")
        return label_merge.cli_merge(args.id, args.label)
    if args.resolve:
        return label_merge.cli_resolve(args.store, args.resolve, author)
    if args.conflicts:
        found = label_merge.conflicts(args.store)
        print(f"{len(found)} unresolved label conflicts")
        for c in found:
            print("  " + c.line())
        return 0
    with Store(args.store, "r") as st:
        index = st.object_index()
        context = score_context(st, args.space)
    with LabelJournal(args.store) as journal:
        if args.label_set is not None:
            journal.set_label_set([x for x in args.label_set.split(",") if x.strip()])
            print("label set: " + ", ".join(journal.label_set()))
            if not args.id and not args.from_file:
                return 0
        if args.from_file:
            rows = read_label_csv(args.from_file)
            rows = [(i, journal.check_label(lab, i), note) for i, lab, note in rows]
            known = [r for r in rows if r[0] in index]
            unknown = [r[0] for r in rows if r[0] not in index]
            n = journal.add_many(known, author=author)
            print(f"{n} labels applied from {args.from_file}")
            if unknown:
                print(f"{len(unknown)} unknown ids not in {args.store}: "
                      + ", ".join(unknown[:20]) + (" ..." if len(unknown) > 20 else ""))
            return 0
        if not args.id or args.label is None:
            raise LabelError("label: give ID and LABEL, or --from FILE")
        if args.id not in index:
            raise LabelError(f"{args.id}: no such object in {args.store}")
        label = journal.check_label(args.label, args.id)
        score, rank, space, run = at_row(context, index[args.id])
        seq = journal.add(args.id, label, args.note, author, score, rank, space, run)
        print(f"{args.id}: {args.label.strip()} (entry {seq})")
    return 0

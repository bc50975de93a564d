"""Readers of real survey formats and the ingest stage (``pvsvet-engine ingest``).

Modules: :mod:`.formats` (light-curve readers: Chen CPVS, ZTF DR, plain CSV, ALeRCE),
:mod:`.catalog` (Chen Table2 and astropy tables), :mod:`.quality` (cleaning, the
paper's cut, derived columns), :mod:`.stage` (the :func:`ingest` stage generator),
:mod:`.report` (the summary), :mod:`.command` (the CLI).
"""
from .command import cli, configure_parser
from .report import EXCLUDING
from .stage import ingest

__all__ = ["ingest", "cli", "configure_parser", "EXCLUDING"]

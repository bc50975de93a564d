"""pvsvet engine: the headless pipeline (ingest, fold, GP, VAE, forest, context).

Imports no Qt and nothing from :mod:`pvsvet`; every feature is reachable from
``pvsvet-engine``.
"""
__version__ = "0.1.0"

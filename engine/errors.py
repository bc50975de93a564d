"""Domain errors. Every message names the object or file and what is wrong."""


class PvsvetError(Exception):
    """Base class of all pvsvet errors; the CLI prints these as one line, exit code 1."""


class StoreError(PvsvetError):
    """The file is not a pvsvet store, is from another schema version, or is busy."""


class DamagedError(StoreError):
    """A store's file or one of its groups is damaged (failed checksum, truncated)."""


class ConfigError(PvsvetError):
    """A configuration file or value is invalid."""


class IngestError(PvsvetError):
    """A catalogue or light-curve file cannot be read."""


class StageError(PvsvetError):
    """A stage cannot run (missing input stage, bad settings, ...)."""


class ModelError(PvsvetError):
    """A stored model cannot be loaded (other version, other architecture)."""


class FeatureError(PvsvetError):
    """A feature required by the scorer is missing."""

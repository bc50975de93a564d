"""pvsvet, the desktop application (PySide6 + pyqtgraph) over the engine's store."""
from __future__ import annotations

import os
import sys
from pathlib import Path


def _quiet_tensorflow() -> None:
    """On a machine without an NVIDIA device, hide TensorFlow's C++ error "failed call to
    cuInit" that every start printed (TF_CPP_MIN_LOG_LEVEL must be set before TensorFlow
    is imported). With a GPU, or when the user set the level, TensorFlow speaks as usual:
    then a CUDA error means something."""
    if "TF_CPP_MIN_LOG_LEVEL" in os.environ or "tensorflow" in sys.modules:
        return
    if not any(Path("/dev").glob("nvidia[0-9]*")):
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"


_quiet_tensorflow()

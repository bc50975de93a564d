"""TensorFlow set-up shared by training and encoding: threads, determinism, device."""
from __future__ import annotations

import functools
import logging
import os

logger = logging.getLogger(__name__)


@functools.lru_cache(maxsize=1)
def tensorflow():
    """Import TensorFlow once, with thread pools sized for this machine.

    TensorFlow's default inter-op pool (one thread per core) competes with the
    intra-op pool on a 2-core machine; one inter-op thread and all cores intra-op
    is the fastest setting measured here for this small convolutional network.
    ``PVSVET_TF_THREADS`` overrides the intra-op count.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    n = int(os.environ.get("PVSVET_TF_THREADS", "0")) or (os.cpu_count() or 1)
    try:
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(1 if n <= 4 else 2)
    except RuntimeError:  # the runtime was initialised already (another stage ran first)
        logger.debug("TensorFlow threads already configured")
    return tf


def seed_everything(seed: int, deterministic: bool) -> None:
    """Seed Python, numpy and TensorFlow; optionally make TF ops deterministic.

    Op determinism costs nothing measurable on CPU for this network (the convolution
    kernels are deterministic there already); on GPU it selects deterministic cuDNN
    algorithms, which are slower, so it is a setting (``VAEConfig.deterministic``).
    """
    import keras

    tf = tensorflow()
    keras.utils.set_random_seed(int(seed))
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def device_name() -> str:
    tf = tensorflow()
    gpus = tf.config.list_physical_devices("GPU")
    return f"GPU ({gpus[0].name})" if gpus else "CPU"

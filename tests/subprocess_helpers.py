"""Environment for tests that run ``python -m zfkeras`` in a subprocess."""

import os


def quiet_env():
    """os.environ with TensorFlow's C++ logs quiet, unbuffered output and
    no inherited TF_CONFIG (which would turn a run multi-worker)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
    env.pop("TF_CONFIG", None)
    return env

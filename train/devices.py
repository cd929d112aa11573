"""Device setup and the distribution strategy for training."""

import json
import os


def worker_role(tf_config=None):
    """``(is_chief, name)`` of this process in a multi-worker cluster.

    Reads ``TF_CONFIG`` (or the given JSON string) without TensorFlow. The
    chief is the task of type ``chief``, or worker 0 when the cluster has no
    chief; a process without ``TF_CONFIG`` is its own chief.
    """
    raw = os.environ.get("TF_CONFIG", "") if tf_config is None else tf_config
    if not raw:
        return True, "chief"
    try:
        config = json.loads(raw)
        task = config.get("task", {})
        kind, index = task.get("type", "worker"), int(task.get("index", 0))
    except (ValueError, TypeError, AttributeError) as e:
        raise ValueError(f"TF_CONFIG is not valid JSON with a task type and index: {e}") from None
    has_chief = bool(config.get("cluster", {}).get("chief"))
    is_chief = kind == "chief" or (kind == "worker" and index == 0 and not has_chief)
    return is_chief, f"{kind}-{index}"


def configure_devices(num_logical_cpus=0):
    """Splits the CPU into logical devices; must run before any TF op.

    Args:
        num_logical_cpus: 0 leaves the devices alone; N >= 1 makes N logical
            CPU devices (how the multi-device path runs without GPUs).

    Raises:
        RuntimeError: TensorFlow was already initialised, so the split can
            no longer be made (it only works in a fresh process).
    """
    if num_logical_cpus <= 0:
        return
    import tensorflow as tf

    cpus = tf.config.list_physical_devices("CPU")
    try:
        tf.config.set_logical_device_configuration(
            cpus[0], [tf.config.LogicalDeviceConfiguration()] * num_logical_cpus
        )
    except RuntimeError as e:
        raise RuntimeError(
            f"cannot split the CPU into {num_logical_cpus} devices after TensorFlow has "
            "started; configure devices first thing in a fresh process"
        ) from e


def make_strategy(num_logical_cpus=0, worker_timeout=0):
    """Chooses the distribution strategy.

    * ``TF_CONFIG`` set: `MultiWorkerMirroredStrategy` (multi-host), waiting
      at most `worker_timeout` seconds (0: no limit) for the other workers
      (`zfkeras.train.multiworker.connect`).
    * ``num_logical_cpus`` >= 2: `MirroredStrategy` over that many CPUs.
    * several GPUs visible: `MirroredStrategy` over all of them.
    * otherwise the default (single-device) strategy.

    Returns:
        ``(strategy, description)``.
    """
    import tensorflow as tf

    if os.environ.get("TF_CONFIG"):
        from zfkeras.train.multiworker import connect

        return connect(worker_timeout)
    if num_logical_cpus >= 2:
        devices = [d.name for d in tf.config.list_logical_devices("CPU")][:num_logical_cpus]
        return tf.distribute.MirroredStrategy(devices), f"MirroredStrategy over {len(devices)} logical CPUs"
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) >= 2:
        return tf.distribute.MirroredStrategy(), f"MirroredStrategy over {len(gpus)} GPUs"
    device = gpus[0].name if gpus else "CPU"
    return tf.distribute.get_strategy(), f"single device ({device})"


def replica_weight_spread(model, strategy):
    """Largest absolute difference between any two replicas' copies of a
    weight (0.0 when the replicas are in sync, and for one replica)."""
    worst = 0.0
    for variable in model.weights:
        values = [v.numpy() for v in strategy.experimental_local_results(getattr(variable, "value", variable))]
        for other in values[1:]:
            worst = max(worst, float(abs(values[0] - other).max()))
    return worst

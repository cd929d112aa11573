"""Training on several workers with `tf.distribute.MultiWorkerMirroredStrategy`.

``TF_CONFIG`` names the cluster (TensorFlow's format); every worker runs the
same ``zfkeras train`` command. What this module adds around TensorFlow's
strategy:

* `connect`: the strategy, with a bounded wait for the other workers
  (TensorFlow's coordination service, with a registration timeout): after
  ``--worker-timeout`` seconds an `InputError` names the addresses that did
  not answer, instead of a hang.
* `WorkerFolder`: where a worker writes. The chief (``chief``, else worker 0)
  writes the run folder; every other worker writes the same files (saving
  runs collectives, so every worker must save) into a temporary folder it
  removes at the end, as TensorFlow's multi-worker guide prescribes.
* `agree_on`: checks that every worker sees the same number (the epoch to
  resume from) with one all-reduce.
* `fix_keras_multi_worker`: two workarounds for Keras 3.15 under
  `MultiWorkerMirroredStrategy` (keras-team/keras#20585): `fit` and
  `evaluate` reduce the first input batch with ``strategy.reduce`` on a
  tuple, and the step outputs (scalars) with ``axis=0``; both raise with
  two workers ("Attempt to convert a value (PerReplica...) to a Tensor").
* `write_weight_digest`: for tests, each worker's final weights as a SHA-256
  (``ZFKERAS_TEST_WEIGHT_DIGEST`` names the folder).
"""

import hashlib
import json
import os
import shutil
import socket
import tempfile

DIGEST_ENV = "ZFKERAS_TEST_WEIGHT_DIGEST"


def cluster_workers(tf_config=None):
    """``(addresses, task_type, task_index)`` from ``TF_CONFIG``; addresses
    lists every task of the cluster as ``(name, "host:port")``."""
    raw = os.environ.get("TF_CONFIG", "") if tf_config is None else tf_config
    config = json.loads(raw)
    cluster, task = config.get("cluster", {}), config.get("task", {})
    addresses = [(f"{kind} {i}", address) for kind in ("chief", "worker")
                 for i, address in enumerate(cluster.get(kind, []))]
    return addresses, task.get("type", "worker"), int(task.get("index", 0))


def unreachable(addresses, seconds=1.0):
    """The ``(name, address)`` pairs where nothing accepts a TCP connection."""
    missing = []
    for name, address in addresses:
        host, _, port = address.rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=seconds):
                pass
        except (OSError, ValueError):
            missing.append((name, address))
    return missing


def timeout_message(timeout, tf_config=None):
    """What a worker that waited `timeout` seconds for its cluster reports."""
    addresses, kind, index = cluster_workers(tf_config)
    others = [(name, address) for name, address in addresses if name != f"{kind} {index}"]
    missing = unreachable(others) or others
    waited_for = ", ".join(f"{name} at {address}" for name, address in missing)
    return (f"{kind} {index} waited {timeout} s (--worker-timeout) for the cluster of TF_CONFIG and "
            f"got no answer from {waited_for}; start every worker with the same TF_CONFIG "
            "(its own task index) within the timeout")


def connect(timeout):
    """Creates `MultiWorkerMirroredStrategy`, waiting at most `timeout`
    seconds (0: TensorFlow's own limit) for the other workers.

    Returns:
        ``(strategy, description)``.

    Raises:
        InputError: the cluster did not come together within `timeout`
            (the message names the addresses that did not answer).
    """
    import tensorflow as tf

    from zfkeras.utils.errors import InputError

    if timeout:
        _register_timeout(timeout)
    try:
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    except (tf.errors.DeadlineExceededError, tf.errors.UnavailableError):
        raise InputError(timeout_message(timeout)) from None
    workers = strategy.extended._num_workers  # noqa: SLF001 - the cluster's size as TF counts it
    return strategy, f"MultiWorkerMirroredStrategy ({workers} workers)"


def _register_timeout(timeout):
    """Configures TensorFlow's coordination service as the strategy would,
    plus a bounded wait for every task to register (the strategy keeps a
    configuration that is already set). Without it, the leader waits with
    the GIL held, beyond the reach of any Python timer."""
    import tensorflow as tf
    from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
    from tensorflow.python.distribute import multi_worker_util
    from tensorflow.python.eager import context

    cluster = tf.distribute.cluster_resolver.TFConfigClusterResolver().cluster_spec()
    jobs = [coordination_config_pb2.CoordinatedJob(name=job, num_tasks=cluster.num_tasks(job))
            for job in ("chief", "worker") if job in cluster.jobs]
    context.context().configure_coordination_service(
        service_type="standalone", service_leader=multi_worker_util.coordination_leader(cluster),
        coordinated_jobs=jobs, cluster_register_timeout_in_ms=int(timeout * 1000),
    )
    context.context().coordination_service.cluster_register_with_barrier = True


def agree_on(strategy, value, what):
    """Checks that every worker passes the same integer `value` (one
    all-reduce); raises `InputError` naming `what` otherwise."""
    import tensorflow as tf

    from zfkeras.utils.errors import InputError

    x = tf.constant([1.0, float(value), float(value) ** 2])
    n, total, squares = (float(v) for v in strategy.reduce("SUM", x, axis=None).numpy())
    if abs(n * squares - total * total) > 0.5:
        raise InputError(
            f"the workers disagree on {what} (this worker: {value}, mean over {int(n)} workers: "
            f"{total / n:g}); the run folder must be on a file system every worker sees"
        )
    return value


class WorkerFolder:
    """The folder this worker writes: the run folder on the chief, a fresh
    temporary folder elsewhere (`close` removes it)."""

    def __init__(self, run_dir, is_chief, role):
        self.run_dir, self.is_chief, self.role = run_dir, is_chief, role
        self.path = run_dir if is_chief else tempfile.mkdtemp(prefix=f"zfkeras-{role}-")

    def close(self):
        if not self.is_chief:
            shutil.rmtree(self.path, ignore_errors=True)


def fix_keras_multi_worker(model):
    """Makes `model.fit` and `model.evaluate` work under a multi-worker
    `MultiWorkerMirroredStrategy` (Keras 3.15; see the module docstring)."""
    import tensorflow as tf
    from keras.src import tree
    from keras.src.backend.tensorflow import trainer

    strategy = model.distribute_strategy

    def local(value):
        if isinstance(value, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(value)[0]
        return value

    def symbolic_build(self, iterator=None, data_batch=None):
        # The batch only gives shapes and dtypes: this worker's copy will do.
        if iterator is not None:
            for _, _, batches in iterator:
                data_batch = tree.map_structure(local, next(batches))
                break
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    model._maybe_symbolic_build = symbolic_build.__get__(model)  # noqa: SLF001
    original = getattr(trainer.reduce_per_replica, "zfkeras_original", trainer.reduce_per_replica)

    def reduce_per_replica(values, strategy, reduction="auto"):
        if reduction in ("auto", "mean") and trainer._collective_all_reduce_multi_worker(strategy):
            return tree.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None), values)
        return original(values, strategy, reduction)

    reduce_per_replica.zfkeras_original = original
    trainer.reduce_per_replica = reduce_per_replica


def weight_digest(model):
    """SHA-256 of the model's weights (names, shapes and bytes, in order)."""
    digest = hashlib.sha256()
    for variable in model.weights:
        value = variable.numpy()
        digest.update(f"{variable.path}{value.shape}{value.dtype}".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def write_weight_digest(model, role):
    """Writes ``$ZFKERAS_TEST_WEIGHT_DIGEST/<role>.json`` when the variable
    is set (the multi-worker tests compare the workers' final weights)."""
    folder = os.environ.get(DIGEST_ENV)
    if folder:
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, f"{role}.json"), "w") as f:
            json.dump({"role": role, "sha256": weight_digest(model)}, f)


def shard_by_examples(dataset):
    """`dataset` with tf.data's ``AutoShardPolicy.DATA``: each worker keeps
    its part of every global batch (the same seeded order on every worker),
    so no example is seen twice in an epoch and the global batch is the
    dataset's batch."""
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)

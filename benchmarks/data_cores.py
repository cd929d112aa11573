"""Does the input pipeline let Keras `fit` use both CPU cores?

Trains the same small conv net on 10,000 Fashion-MNIST images with three
inputs:

* ``numpy``: ``model.fit(x, y, batch_size=...)`` on the arrays,
* ``default``: ``from_tensor_slices -> shuffle -> batch -> prefetch(AUTOTUNE)``
  with default `tf.data.Options`,
* ``options``: `zfkeras.data.array_dataset` (the same pipeline with
  `two_core_options()`: no autotuning, a private 1-thread pool, prefetch(1)),

and reports, per epoch, wall time and CPU utilisation = process CPU time /
wall time (2.0 means both cores busy all the time). Every variant runs in a
fresh process (thread pools are per process), in alternating order over
``--rounds`` rounds; the first epoch (tracing) is reported apart.

    .venv/bin/python -m benchmarks.data_cores [--rounds 2] [--epochs 4]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

VARIANTS = ("numpy", "default", "options")
# An epoch is "quiet" when other processes used less than this many cores.
QUIET = 0.1


def machine_busy_seconds():
    """CPU seconds all processes have used so far (Linux /proc/stat)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except OSError:
        return float("nan")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def run_variant(variant, epochs, num_examples, batch_size, seed):
    """Trains once with one input variant; returns per-epoch timings."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    from zfkeras.data import array_dataset, load_fashion_mnist

    (x_train, y_train), _ = load_fashion_mnist()
    x = x_train[:num_examples].astype("float32") / 255.0
    y = y_train[:num_examples]

    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(32, 3, activation="relu"),
            keras.layers.MaxPooling2D(3, 2),
            keras.layers.Conv2D(64, 3, activation="relu"),
            keras.layers.MaxPooling2D(3, 2),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )

    class EpochClock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epochs = []

        def on_epoch_begin(self, epoch, logs=None):
            self.wall, self.cpu = time.perf_counter(), time.process_time()
            self.busy = machine_busy_seconds()

        def on_epoch_end(self, epoch, logs=None):
            wall = time.perf_counter() - self.wall
            cpu = time.process_time() - self.cpu
            # CPU used by other processes meanwhile: a busy machine, not the
            # pipeline, would then explain a low cpu/wall.
            others = machine_busy_seconds() - self.busy - cpu
            self.epochs.append(
                {
                    "wall_s": wall,
                    "cpu_s": cpu,
                    "cpu_per_wall": cpu / wall,
                    "others_per_wall": max(others, 0.0) / wall,
                }
            )

    clock = EpochClock()
    if variant == "numpy":
        model.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=True, verbose=0, callbacks=[clock])
    else:
        if variant == "default":
            data = (
                tf.data.Dataset.from_tensor_slices((x, y))
                .shuffle(len(x), seed=seed)
                .batch(batch_size)
                .prefetch(tf.data.AUTOTUNE)
            )
        else:
            data = array_dataset(x, y, batch_size, shuffle=True, seed=seed)
        model.fit(data, epochs=epochs, verbose=0, callbacks=[clock])
    return {
        "variant": variant,
        "epochs": clock.epochs,
        "params": model.count_params(),
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--examples", type=int, default=10000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.variant:  # Child process: one training run, JSON on stdout.
        result = run_variant(args.variant, args.epochs, args.examples, args.batch_size, args.seed)
        print("RESULT " + json.dumps(result))
        return

    print(f"cores: {os.cpu_count()}, load average before: {os.getloadavg()}")
    runs = {v: [] for v in VARIANTS}
    for r in range(args.rounds):
        order = VARIANTS if r % 2 == 0 else VARIANTS[::-1]
        for variant in order:
            command = [sys.executable, "-m", "benchmarks.data_cores", "--variant", variant]
            command += ["--epochs", str(args.epochs), "--examples", str(args.examples)]
            command += ["--batch-size", str(args.batch_size), "--seed", str(args.seed)]
            out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            result = json.loads(out.split("RESULT ", 1)[1])
            runs[variant].append(result)
            later = result["epochs"][1:]
            print(
                f"round {r} {variant:8s} epoch s: "
                + " ".join(f"{e['wall_s']:.2f}" for e in result["epochs"])
                + "  cpu/wall: "
                + " ".join(f"{e['cpu_per_wall']:.2f}" for e in result["epochs"])
                + "  others/wall: "
                + " ".join(f"{e['others_per_wall']:.2f}" for e in result["epochs"])
                + f"  (median after epoch 1: {statistics.median(e['wall_s'] for e in later):.2f} s)"
            )
    print(f"load average after: {os.getloadavg()}")
    print()
    print(
        "| input | epoch 1 s | later epochs s (median) | CPU/wall later epochs "
        "(median, min-max) | quiet later epochs: n, s, CPU/wall (median) |"
    )
    print("|---|---|---|---|---|")
    for variant in VARIANTS:
        first = [run["epochs"][0]["wall_s"] for run in runs[variant]]
        later = [e for run in runs[variant] for e in run["epochs"][1:]]
        util = [e["cpu_per_wall"] for e in later]
        # Epochs during which other processes used under 0.1 core.
        quiet = [e for e in later if e["others_per_wall"] < QUIET]
        quiet_text = (
            f"{len(quiet)}, {statistics.median(e['wall_s'] for e in quiet):.2f}, "
            f"{statistics.median(e['cpu_per_wall'] for e in quiet):.2f}"
            if quiet
            else "0, -, -"
        )
        print(
            f"| {variant} | {statistics.median(first):.2f} | "
            f"{statistics.median(e['wall_s'] for e in later):.2f} | "
            f"{statistics.median(util):.2f} ({min(util):.2f}-{max(util):.2f}) | {quiet_text} |"
        )

if __name__ == "__main__":
    main()

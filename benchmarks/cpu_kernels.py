"""Training step time with TensorFlow's oneDNN CPU kernels on and off.

TensorFlow turns oneDNN on by default only on CPUs with AVX-512 VNNI or
newer; ``zfkeras`` turns it on everywhere (``TF_ENABLE_ONEDNN_OPTS=1`` unless
set). The setting is read when TensorFlow loads, so each measurement is its
own process; settings alternate, rounds are medians. Same model (zfnet_small),
data (Fashion-MNIST through `zfkeras.array_dataset`), batch and optimizer as
the main job.

    .venv/bin/python -m benchmarks.cpu_kernels [--steps 40] [--rounds 3] [--threads 0]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

SETTINGS = ("0", "1")


def measure(steps, batch_size):
    """Images per second of `steps` training steps after 5 warm-up steps (this process)."""
    import keras
    import tensorflow as tf

    import zfkeras
    from zfkeras.data import array_dataset, load_fashion_mnist

    (x, y), _ = load_fashion_mnist()
    n = (steps + 5) * batch_size
    mean, std = x[:n].astype("float32").mean(0), x[:n].std()

    def pre(a, b):
        return (tf.cast(a, tf.float32) - mean) / std, b

    data = array_dataset(x[:n], y[:n], batch_size, preprocess=pre)
    model = zfkeras.zfnet_small(seed=0)
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                  loss="sparse_categorical_crossentropy", jit_compile=False)
    model.fit(data.take(5), epochs=1, verbose=0)
    start = time.perf_counter()
    model.fit(data.skip(5), epochs=1, verbose=0)
    train = steps * batch_size / (time.perf_counter() - start)
    images = data.map(lambda a, b: a)
    model.predict(images.take(2), verbose=0)
    start = time.perf_counter()
    model.predict(images, verbose=0)
    return train, n / (time.perf_counter() - start)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=0, help="TensorFlow intra-op threads (0: TensorFlow's choice)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(*measure(args.steps, args.batch_size))
        return
    from analysis.output.machine import avx512, cpu_model

    rates = {s: [] for s in SETTINGS}
    predict = {s: [] for s in SETTINGS}
    for _ in range(args.rounds):
        for setting in SETTINGS:
            env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS=setting, TF_CPP_MIN_LOG_LEVEL="2")
            if args.threads:
                env.update(TF_NUM_INTRAOP_THREADS=str(args.threads), TF_NUM_INTEROP_THREADS="1")
            out = subprocess.run([sys.executable, "-m", "benchmarks.cpu_kernels", "--child",
                                  "--steps", str(args.steps), "--batch-size", str(args.batch_size)],
                                 env=env, check=True, capture_output=True, text=True).stdout
            train, infer = (float(v) for v in out.split()[-2:])
            rates[setting].append(train)
            predict[setting].append(infer)
    result = {
        "cpu": cpu_model(), "avx512": avx512(), "threads": args.threads or "TensorFlow's choice",
        "images_per_s_onednn_off": round(statistics.median(rates["0"]), 1),
        "images_per_s_onednn_on": round(statistics.median(rates["1"]), 1),
        "predict_images_per_s_onednn_off": round(statistics.median(predict["0"]), 1),
        "predict_images_per_s_onednn_on": round(statistics.median(predict["1"]), 1),
        "rounds": {f"TF_ENABLE_ONEDNN_OPTS={s}": [round(r, 1) for r in rates[s]] for s in SETTINGS},
    }
    result["train_speedup_on_over_off"] = round(
        result["images_per_s_onednn_on"] / result["images_per_s_onednn_off"], 3)
    result["predict_speedup_on_over_off"] = round(
        result["predict_images_per_s_onednn_on"] / result["predict_images_per_s_onednn_off"], 3)
    print(json.dumps(result))


if __name__ == "__main__":
    main()

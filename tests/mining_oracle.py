"""Test helpers for mining: a brute-force oracle and an exact-arithmetic
model with many ties (not a test module; imported by tests and by the
distributed test's subprocess)."""

import numpy as np
import keras


def brute_force(model, images, layer, k):
    """All activations at once, then per map: per-image max and first
    row-major argmax, images sorted by (value descending, id ascending)."""
    maps = keras.Model(model.input, model.get_layer(layer).output)(images, training=False).numpy()
    n, h, w, c = maps.shape
    flat = maps.reshape(n, h * w, c)
    best, first = flat.max(axis=1), flat.argmax(axis=1)  # (N, C)
    ids = np.array([sorted(range(n), key=lambda i: (-best[i, ch], i))[:k] for ch in range(c)])
    values = np.take_along_axis(best.T, ids, axis=1)
    flat_pos = np.take_along_axis(first.T, ids, axis=1)
    return values, ids, np.stack([flat_pos // w, flat_pos % w], axis=-1)


def integer_model():
    """Integer weights and inputs: exact float arithmetic and many exact ties
    (between images and between positions in one image)."""
    rng = np.random.RandomState(3)
    inputs = keras.Input((6, 6, 1))
    x = keras.layers.Conv2D(3, 3, padding="same", activation="relu", name="c1")(inputs)
    x = keras.layers.MaxPooling2D(2, name="p1")(x)
    x = keras.layers.Conv2D(4, 2, activation="relu", name="c2")(x)
    x = keras.layers.Flatten(name="flat")(x)
    outputs = keras.layers.Dense(2, name="head")(x)
    model = keras.Model(inputs, outputs)
    for layer in model.layers:
        if layer.weights:
            layer.set_weights([rng.randint(-1, 2, w.shape).astype("float32") for w in layer.get_weights()])
    return model


def integer_images(n=30, seed=0):
    images = np.random.RandomState(seed).randint(0, 3, (n, 6, 6, 1)).astype("float32")
    if n >= 21:
        images[3] = images[7] = images[20]  # identical images: equal values, smaller id first
        images[10:14] = 0  # all-zero maps: ties at every position
        images[15] = 2  # constant image: ties inside the image
    return images

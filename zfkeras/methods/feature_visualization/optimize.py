"""`feature_visualization`: images that maximise units or classes, by
Lucid's or MaCo's method, a batch of objectives in one graph.

Each step renders the K images from their parameters (Fourier coefficients,
or phases), takes random views of them (`transforms`), maps the views'
pixels to the model's inputs (`pixel_space`), reads objective k from image
k's views (`objectives`) and ascends the sum: every image gets its own
objective's gradient, so K objectives cost one forward and backward pass of
the K (or K x crops) views.
"""

import dataclasses
from typing import Optional, Tuple

import numpy as np

from zfkeras.utils.errors import InputError
from zfkeras.utils.validation import float_in_range, one_of, positive_float, positive_int
from zfkeras.plot.inline import ShowsItself

__all__ = ["feature_visualization", "FeatureVisualization", "METHODS", "DEFAULTS"]

METHODS = ("maco", "fourier")

# Lucid: Adam 0.05, 512 steps. MaCo (Xplique): Nadam 1.0, 256 steps.
DEFAULTS = {
    "maco": {"steps": 256, "learning_rate": 1.0},
    "fourier": {"steps": 512, "learning_rate": 0.05},
}
# Xplique's noise is 0.08 on its (-1, 1) input range: 0.04 of the pixel range.
DEFAULT_NOISE = 0.04
DEFAULT_CROPS = 32
# Xplique shrinks its crops from 0.5 to 0.05 of a 512 px image seen at 224 px
# (zooms 1.1x to 11x). Here the image is the model's input size and is judged
# whole (activation reached): crops start at the whole image and shrink to
# 3/4 of it (zooms 1x to 1.33x). On the tests' digits model this reached
# median 1.15 (89-95% of maps >= 1) against 1.08 (74-79%) for 1.0 to 0.5.
DEFAULT_BOX = (1.0, 0.75)


def _frozen(array, dtype):
    if array is None:
        return None
    array = np.array(array, dtype=dtype, copy=True)
    array.setflags(write=False)
    return array


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class FeatureVisualization(ShowsItself):
    """The optimised images of a batch of objectives.

    Attributes:
        objectives: what each image maximises, as given (`zfkeras.Unit`s
            and class indices).
        method: ``"maco"`` or ``"fourier"``.
        images: float32 ``(K, H, W, C)`` in the model's input space.
        pixels: uint8 ``(K, H, W, C)``: the same images displayable (the
            model's preprocessing undone).
        values: float32 ``(K,)``: each objective on its final image (the
            whole image, no random view).
        transparency: MaCo only (None for ``"fourier"``): float32 ``(K, H, W)``
            in ``[0, 1]``, the accumulated gradient magnitude of each image
            (summed over channels, divided by its maximum); where it is
            small the objective did not care (display it as alpha), so it
            is also an attribution of the visualisation.
        steps, seed: as run.

    Arrays are read-only.
    """

    objectives: Tuple
    method: str
    images: np.ndarray
    pixels: np.ndarray
    values: np.ndarray
    transparency: Optional[np.ndarray]
    steps: int
    seed: int

    def __post_init__(self):
        object.__setattr__(self, "objectives", tuple(self.objectives))
        object.__setattr__(self, "images", _frozen(self.images, "float32"))
        object.__setattr__(self, "pixels", _frozen(self.pixels, "uint8"))
        object.__setattr__(self, "values", _frozen(self.values, "float32"))
        object.__setattr__(self, "transparency", _frozen(self.transparency, "float32"))

    def __len__(self):
        return len(self.images)

    def __repr__(self):
        k, h, w, c = self.images.shape
        return f"<FeatureVisualization {self.method!r}: {k} images {h}x{w}x{c}, {self.steps} steps, seed {self.seed}>"


def _box(box_size):
    try:
        start, end = (float_in_range(b, "box_size", 0.05, 1.0) for b in box_size)
    except TypeError:
        start = end = float_in_range(box_size, "box_size", 0.05, 1.0)
    return start, end


def _seed(seed):
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise InputError(f"seed must be an int; got {seed!r}")
    return int(seed)


class _Parameters:
    """The K images' parameters and how they render to pixels in ``[0, 1]``."""

    def __init__(self, method, count, shape, stream, magnitude=None, contrast=(1.0, 0.0), decay_power=1.0):
        import tensorflow as tf

        from zfkeras.methods.feature_visualization import fourier

        height, width, channels = shape
        self.method, self.height, self.width = method, height, width
        self.decay_power = decay_power
        self.gain, self.bias = float(contrast[0]), tf.constant(contrast[1], tf.float32)
        spectrum = (count, channels, height, width // 2 + 1)
        start = tf.random.experimental.stateless_fold_in(stream, -1)
        if method == "maco":
            self.magnitude = tf.constant(magnitude)
            # Xplique: phases N(0, 1); they are standardised when rendered anyway.
            self.variable = tf.Variable(tf.random.stateless_normal(spectrum, start), name="phase")
        else:
            # Lucid: coefficients N(0, 0.01).
            self.variable = tf.Variable(tf.random.stateless_normal((2,) + spectrum, start, stddev=0.01),
                                        name="spectrum")
        self._fourier = fourier

    def pixels(self):
        import tensorflow as tf

        from zfkeras.methods.feature_visualization.color import correlate

        if self.method == "maco":
            image = self._fourier.maco_image(self.magnitude, self.variable, self.height, self.width)
        else:
            image = self._fourier.fourier_image(self.variable, self.height, self.width, self.decay_power)
        return tf.sigmoid(self.gain * correlate(image) + self.bias)


def feature_visualization(model, objectives, method="maco", inputs=None, preprocess=None, steps=None,
                          learning_rate=None, seed=0, crops=DEFAULT_CROPS, box_size=DEFAULT_BOX,
                          noise=DEFAULT_NOISE, transforms=True, decay_power=1.0, batch_size=None, verbose="auto"):
    """Images that maximise each objective, optimised together.

    Args:
        model: a single-input Keras image model, differentiable (any
            classifier: chains, graphs, nested bases, batch normalisation
            (run in inference mode), grey or colour; a mixed-precision model
            is optimised through its float32 copy).
        objectives: one, or a list, of `zfkeras.Unit(layer, channel)` (the
            map's mean), `zfkeras.Unit(layer, channel, position=(y, x))`
            (one neuron) and class indices (the class's logit; the score
            before the softmax of a softmax head).
        method: ``"maco"`` (the phase over the ``inputs``' average
            spectrum; Fel et al. 2023) or ``"fourier"`` (Lucid's 1/f
            Fourier coefficients, decorrelated colour, transformation
            robustness; Olah et al. 2017).
        inputs: images ``(N, H, W, C)`` as the model takes them (e.g. the
            training images): MaCo's magnitude spectrum, and with no
            ``preprocess`` the valid range of the inputs.
        preprocess: None, or the function from pixels ``(N, H, W, C)`` in
            ``[0, 255]`` to model inputs (`zfkeras.RunFolder.preprocess`;
            affine at each pixel): optimised images are its outputs for
            valid pixels.
        steps: optimisation steps (default 256 for MaCo, 512 for Lucid's).
        learning_rate: Nadam's for MaCo (default 1.0), Adam's for Lucid's (0.05).
        seed: fixes the initial images and every random view.
        crops: MaCo's random crops per image and step.
        box_size: MaCo's mean crop side, a fraction of the image: a pair
            (linear from the first to the second over the steps) or one value.
        noise: MaCo's noise standard deviation, in units of the pixel range.
        transforms: Lucid's transformation robustness (``"fourier"``; False
            optimises the image as it is).
        decay_power: the exponent of Lucid's 1/f scale.
        batch_size: None (all objectives in one graph), or the most views
            per step: objectives are then optimised in groups of
            ``batch_size // crops`` (Lucid's: ``batch_size``), one group
            after the other (the memory of a big model's backward pass).
        verbose: 0, 1 or ``"auto"`` (a progress bar over the steps).

    Returns:
        A `FeatureVisualization`.

    Raises:
        InputError: bad objectives (naming them), or arguments.
    """
    from zfkeras.methods.feature_visualization.fourier import average_magnitude, sigmoid_contrast
    from zfkeras.methods.feature_visualization.objectives import ObjectiveReader
    from zfkeras.methods.feature_visualization.pixel_space import pixel_space
    from zfkeras.methods.feature_visualization.transforms import box_schedule
    from zfkeras.utils.inputs import check_images
    from zfkeras.utils.progress import check_verbose, progress_bar

    one_of(method, "method", METHODS)
    check_verbose(verbose)
    seed = _seed(seed)
    steps = positive_int(DEFAULTS[method]["steps"] if steps is None else steps, "steps")
    learning_rate = positive_float(DEFAULTS[method]["learning_rate"] if learning_rate is None else learning_rate,
                                   "learning_rate")
    crops = positive_int(crops, "crops")
    box_start, box_end = _box(box_size)
    noise = float_in_range(noise, "noise", 0.0, None)
    decay_power = float_in_range(decay_power, "decay_power", 0.0, None)
    reader = ObjectiveReader(model, objectives)  # checks every objective before any work
    shape = reader.input_shape
    if any(d is None for d in shape):
        raise InputError(f"model {reader.model.name!r} takes inputs of shape {shape}; feature visualisation "
                         "needs a fixed input size")
    views = crops if method == "maco" else 1
    per_group = len(reader.objectives) if batch_size is None else max(1, positive_int(batch_size, "batch_size")
                                                                       // views)
    if inputs is not None:
        inputs = check_images(inputs, shape, reader.model.name)
    elif method == "maco":
        raise InputError("method='maco' fixes the images' Fourier magnitude to the average spectrum of given "
                         "images: pass inputs= (e.g. the training images, as the model takes them)")
    space = pixel_space(shape, preprocess, inputs)
    magnitude, contrast = None, (1.0, np.zeros(shape[-1], np.float32))
    if method == "maco":
        data = np.clip(space.to_pixels(inputs) / 255.0, 0.0, 1.0)
        magnitude, contrast = average_magnitude(data), sigmoid_contrast(data)
    given = [o.given for o in reader.objectives]
    groups = [given[i:i + per_group] for i in range(0, len(given), per_group)]
    settings = dict(method=method, shape=shape, seed=seed, steps=steps, learning_rate=learning_rate,
                    crops=crops, boxes=box_schedule(steps, box_start, box_end), noise=noise,
                    transforms=transforms, magnitude=magnitude, contrast=contrast, decay_power=decay_power,
                    space=space, views=views)
    bar = progress_bar(steps * len(groups), verbose, "step")
    parts = [_optimise(model, group, index, settings, bar) for index, group in enumerate(groups)]
    pixels, values, alpha = (np.concatenate(part) if part[0] is not None else None for part in zip(*parts))
    return FeatureVisualization(
        objectives=given, method=method, images=space.to_model_numpy(pixels),
        pixels=np.clip(np.round(pixels), 0, 255), values=values, transparency=alpha, steps=steps, seed=seed)


def _optimise(model, objectives, group, settings, bar):
    """Optimises one group of objectives: ``(pixels float (K, H, W, C) in
    [0, 255], values (K,), transparency (K, H, W) or None)``."""
    import tensorflow as tf
    import keras

    from zfkeras.methods.feature_visualization.objectives import ObjectiveReader
    from zfkeras.methods.feature_visualization.relu_redirect import REDIRECT_STEPS
    from zfkeras.methods.feature_visualization.transforms import lucid_views, maco_views

    method, shape, seed, space, views = (settings[k] for k in ("method", "shape", "seed", "space", "views"))
    crops, noise, transforms = settings["crops"], settings["noise"], settings["transforms"]
    early = tf.Variable(True, trainable=False)
    reader = ObjectiveReader(model, objectives, redirect=early)
    count = len(objectives)
    stream = tf.constant([seed, group], tf.int64)  # each group its own random numbers
    parameters = _Parameters(method, count, shape, stream, settings["magnitude"], settings["contrast"],
                             settings["decay_power"])
    optimizer = (keras.optimizers.Nadam if method == "maco" else keras.optimizers.Adam)(settings["learning_rate"])
    optimizer.build([parameters.variable])
    transparency = tf.Variable(tf.zeros((count,) + shape[:2]), trainable=False)

    @tf.function(autograph=False)
    def step(index, box):
        key = tf.random.experimental.stateless_fold_in(stream, index)
        with tf.GradientTape() as tape:
            pixels = parameters.pixels()
            if method == "maco":
                seen = maco_views(pixels, key, crops, box, noise)
            else:
                seen = lucid_views(pixels, key) if transforms else pixels
            values = reader.values(space.to_model(seen * 255.0), views)
            loss = -tf.reduce_sum(values)
        gradient, pixel_gradient = tape.gradient(loss, [parameters.variable, pixels])
        optimizer.apply_gradients([(gradient, parameters.variable)])
        transparency.assign_add(tf.reduce_sum(tf.abs(pixel_gradient), axis=-1))
        return values

    for index in range(settings["steps"]):
        early.assign(index < REDIRECT_STEPS)
        step(tf.constant(index, tf.int64), tf.constant(settings["boxes"][index]))
        if bar is not None:
            bar.add(1)
    pixels = parameters.pixels().numpy() * 255.0
    values = reader.values(space.to_model(tf.constant(pixels)), 1).numpy()
    alpha = None
    if method == "maco":
        alpha = transparency.numpy()
        alpha = alpha / np.maximum(alpha.max(axis=(1, 2), keepdims=True), 1e-30)
    return pixels, values, alpha

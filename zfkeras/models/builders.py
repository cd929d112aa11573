"""The ZFNet model family: paper Fig. 3, the dense Krizhevsky baseline,
the Table 2 ablations and small-input variants for CPU work."""

import inspect

import keras

from zfkeras.models.ablations import ABLATIONS
from zfkeras.utils.errors import InputError
from zfkeras.utils.validation import int_pair
from zfkeras.keras_objects.constraints import FilterRMSClip
from zfkeras.layers.local_response_normalization import LocalResponseNormalization

_REMOVABLE = ("conv3", "conv4", "fc6", "fc7")


def paper_initializer(seed=None):
    """The paper's "all weights initialised to 1e-2": N(0, 0.01^2)."""
    return keras.initializers.RandomNormal(mean=0.0, stddev=0.01, seed=seed)


def zfnet(
    input_shape=(224, 224, 3),
    num_classes=1000,
    *,
    remove=(),
    fc_units=4096,
    conv_filters=(96, 256, 384, 384, 256),
    dropout=0.5,
    filter_rms_clip=0.1,
    kernel_initializer="paper",
    seed=None,
    name="zfnet",
):
    """ZFNet exactly as in the paper's Fig. 3 (62,357,608 params at C=1000).

    conv1 7x7/2 (after 1 pixel of zero padding) -> 110x110x96, pool1 3x3/2
    SAME -> 55, norm1, conv2 5x5/2 VALID -> 26, pool2 3x3/2 SAME -> 13,
    norm2, conv3-5 3x3/1 SAME, pool5 3x3/2 VALID -> 6x6x256, fc6, fc7
    (ReLU, dropout), fc8 softmax.

    Args:
        input_shape: ``(H, W, C)``.
        num_classes: size of the softmax ``fc8``.
        remove: any of ``"conv3", "conv4", "fc6", "fc7"`` (Table 2 ablations).
        fc_units: width of fc6/fc7 (Table 2: 2048, 4096, 8192).
        conv_filters: maps of conv1..conv5 (Table 2: conv3-5 at 512/1024/512).
        dropout: dropout rate after fc6 and fc7.
        filter_rms_clip: radius of `FilterRMSClip` on every conv kernel, or
            None to train without feature-scale clipping.
        kernel_initializer: ``"paper"`` (N(0, 0.01), biases 0) or any Keras
            initializer.
        seed: seed of the initializers.
        name: model name.

    Returns:
        An uncompiled `keras.Model` whose ``fc8`` outputs probabilities.

    Raises:
        InputError: a bad ``input_shape`` (or one too small for pool5),
            fewer than 2 classes, an unknown layer in ``remove``, not five
            ``conv_filters``.
    """
    return _build(
        input_shape, num_classes, name=name,
        conv1=dict(kernel=7, stride=2, pad=1), pool1="same",
        conv2=dict(kernel=5, stride=2, padding="valid"), pool2="same",
        remove=remove, fc_units=fc_units, conv_filters=conv_filters,
        dropout=dropout, filter_rms_clip=filter_rms_clip,
        kernel_initializer=kernel_initializer, seed=seed,
    )


def alexnet_dense(
    input_shape=(224, 224, 3),
    num_classes=1000,
    *,
    remove=(),
    fc_units=4096,
    conv_filters=(96, 256, 384, 384, 256),
    dropout=0.5,
    filter_rms_clip=0.1,
    kernel_initializer="paper",
    seed=None,
    name="alexnet_dense",
):
    """Krizhevsky et al.'s net made dense: the paper's baseline.

    conv1 11x11/4 (after 2 pixels of zero padding) -> 55, pool1 3x3/2 VALID
    -> 27, conv2 5x5/1 SAME -> 27, pool2 VALID -> 13, conv3-5, pool5 -> 6.
    Same layer names and arguments as `zfnet`.
    """
    return _build(
        input_shape, num_classes, name=name,
        conv1=dict(kernel=11, stride=4, pad=2), pool1="valid",
        conv2=dict(kernel=5, stride=1, padding="same"), pool2="valid",
        remove=remove, fc_units=fc_units, conv_filters=conv_filters,
        dropout=dropout, filter_rms_clip=filter_rms_clip,
        kernel_initializer=kernel_initializer, seed=seed,
    )


def zfnet_small(
    input_shape=(28, 28, 1),
    num_classes=10,
    *,
    remove=(),
    fc_units=512,
    conv_filters=(32, 64, 128, 128, 64),
    dropout=0.5,
    filter_rms_clip=0.1,
    kernel_initializer="he_normal",
    seed=None,
    conv1=None,
    name="zfnet_small",
):
    """ZFNet's five-conv, three-fc design scaled for 28-64 pixel inputs.

    conv1 5x5 (after 2 pixels of zero padding) with stride 2 for inputs of
    64 pixels or more and stride 1 below, pool1 3x3/2 SAME, norm1, conv2
    3x3/1 SAME, pool2 3x3/2 SAME, norm2, conv3-5 3x3/1 SAME, pool5 3x3/2
    VALID, fc6, fc7, fc8. 28x28 -> 28, 14, 14, 7, 7, 3; 32 -> 32, 16, 16, 8,
    3; 64 -> 32, 16, 16, 8, 3. Same layer names as `zfnet`.

    The default initializer is He-normal: the paper's N(0, 0.01) was sized
    for ZFNet's fan-ins and makes signals vanish at these widths; pass
    ``kernel_initializer="paper"`` to use it anyway.

    Args: as `zfnet`, and
        conv1: ``(kernel, stride)`` of conv1 instead of the default (5 and
            the stride above), zero-padded by ``kernel // 2``: for Fig. 6's
            comparison of a larger, coarser first layer with ours.
    """
    if conv1 is None:
        kernel, stride = 5, 2 if min(input_shape[0], input_shape[1]) >= 64 else 1
    else:
        kernel, stride = int_pair(conv1, "conv1")
    return _build(
        input_shape, num_classes, name=name,
        conv1=dict(kernel=kernel, stride=stride, pad=kernel // 2), pool1="same",
        conv2=dict(kernel=3, stride=1, padding="same"), pool2="same",
        remove=remove, fc_units=fc_units, conv_filters=conv_filters,
        dropout=dropout, filter_rms_clip=filter_rms_clip,
        kernel_initializer=kernel_initializer, seed=seed,
    )


def ablation_kwargs(variant, builder=zfnet, **kwargs):
    """The builder keyword arguments of one Table 2 variant.

    Relative widths (see `ABLATIONS`) are applied to ``kwargs``' values when
    given, else to the builder's defaults.

    Args:
        variant: a key of `ABLATIONS`.
        builder: `zfnet`, `alexnet_dense` or `zfnet_small`.
        **kwargs: the builder arguments the variant changes or adds to.

    Returns:
        A dict to pass to ``builder``.
    """
    if variant not in ABLATIONS:
        raise InputError(f"unknown ablation {variant!r}; choose one of {sorted(ABLATIONS)}")
    defaults = inspect.signature(builder).parameters
    spec = dict(ABLATIONS[variant])
    out = dict(kwargs)
    if "remove" in spec:
        out["remove"] = tuple(spec["remove"])
    if "fc_units_scale" in spec:
        base = kwargs.get("fc_units", defaults["fc_units"].default)
        out["fc_units"] = int(round(base * spec["fc_units_scale"]))
    if "conv_filters_scale" in spec:
        base = kwargs.get("conv_filters", defaults["conv_filters"].default)
        out["conv_filters"] = tuple(int(round(b * f)) for b, f in zip(base, spec["conv_filters_scale"]))
    return out


def zfnet_ablation(variant, builder=zfnet, **kwargs):
    """Builds one Table 2 variant by name (see `ABLATIONS`).

    Args:
        variant: a key of `ABLATIONS`.
        builder: `zfnet`, `alexnet_dense` or `zfnet_small`.
        **kwargs: passed on to the builder; widths given here are the base
            the variant's relative widths apply to.

    Returns:
        The uncompiled model, named ``<builder>_<variant>`` unless ``name``
        is given.
    """
    kwargs.setdefault("name", f"{builder.__name__}_{variant}")
    return builder(**ablation_kwargs(variant, builder, **kwargs))


def _build(
    input_shape, num_classes, *, name, conv1, pool1, conv2, pool2, remove,
    fc_units, conv_filters, dropout, filter_rms_clip, kernel_initializer, seed,
):
    """The family's graph; the builders differ in conv1, conv2 and pool1-2.

    Args:
        conv1: ``dict(kernel, stride, pad)``: zero padding then a VALID conv.
        pool1, pool2: padding of the 3x3/2 max pools after conv1 and conv2.
        conv2: ``dict(kernel, stride, padding)``.
        Others: as `zfnet`.
    """
    input_shape, remove, conv_filters = _checked_arguments(input_shape, num_classes, remove, conv_filters)
    # one initializer per layer, seeded in layer order: conv1..conv5, fc6..fc8
    init = _initializer_sequence(kernel_initializer, seed)
    inputs = keras.Input(input_shape, name="image")
    x = _conv_stack(inputs, init, filter_rms_clip, conv1, pool1, conv2, pool2, remove, conv_filters)
    if x.shape[1] < 3 or x.shape[2] < 3:
        raise InputError(
            f"input_shape {input_shape} is too small for {name}: conv5 output is "
            f"{x.shape[1]}x{x.shape[2]}, pool5 needs at least 3x3"
        )
    outputs = _classifier(x, init, num_classes, remove, fc_units, dropout)
    return keras.Model(inputs, outputs, name=name)


def _checked_arguments(input_shape, num_classes, remove, conv_filters):
    """Checks the builder arguments shared by the family.

    Returns:
        ``(input_shape, remove, conv_filters)`` as tuples.

    Raises:
        InputError: a bad shape, fewer than 2 classes, an unknown layer to
            remove, not 5 positive conv widths.
    """
    input_shape = tuple(input_shape)
    if len(input_shape) != 3 or any(not _is_count(d, 1) for d in input_shape):
        raise InputError(f"input_shape must be (height, width, channels), got {input_shape}")
    if not _is_count(num_classes, 2):
        raise InputError(f"num_classes must be at least 2, got {num_classes!r}")
    remove = tuple(remove)
    unknown = sorted(set(remove) - set(_REMOVABLE))
    if unknown:
        raise InputError(f"cannot remove {unknown}; removable layers are {list(_REMOVABLE)}")
    conv_filters = tuple(conv_filters)
    if len(conv_filters) != 5 or not all(_is_count(f, 1) for f in conv_filters):
        raise InputError(f"conv_filters needs 5 positive values (conv1..conv5), got {conv_filters}")
    return input_shape, remove, tuple(int(f) for f in conv_filters)


def _is_count(value, minimum):
    """Whether ``value`` is a whole number (an int, or a float or string of
    one, as ``int`` reads them) of at least ``minimum``."""
    try:
        return value is not None and int(value) >= minimum
    except (TypeError, ValueError):
        return False


def _initializer_sequence(kernel_initializer, seed):
    """A function returning a new kernel initializer at each call, seeded
    ``seed``, ``seed + 1``, ... (unseeded when ``seed`` is None)."""
    seeds = iter(range(10_000)) if seed is None else iter(range(seed, seed + 10_000))

    def init():
        s = None if seed is None else next(seeds)
        if kernel_initializer == "paper":
            return paper_initializer(s)
        base = keras.initializers.get(kernel_initializer)
        config = base.get_config()
        if "seed" in config:
            config["seed"] = s
        return type(base).from_config(config)

    return init


def _conv_stack(x, init, filter_rms_clip, conv1, pool1, conv2, pool2, remove, conv_filters):
    """conv1 to conv5 with their pools and normalizations, applied to ``x``."""

    def conv(filters, kernel, stride, padding, lname):
        return keras.layers.Conv2D(
            filters, kernel, strides=stride, padding=padding, activation="relu",
            kernel_initializer=init(), bias_initializer="zeros",
            kernel_constraint=FilterRMSClip(filter_rms_clip) if filter_rms_clip else None, name=lname,
        )

    if conv1["pad"]:
        x = keras.layers.ZeroPadding2D(conv1["pad"], name="pad1")(x)
    x = conv(conv_filters[0], conv1["kernel"], conv1["stride"], "valid", "conv1")(x)
    x = keras.layers.MaxPooling2D(3, 2, padding=pool1, name="pool1")(x)
    x = LocalResponseNormalization(name="norm1")(x)
    x = conv(conv_filters[1], conv2["kernel"], conv2["stride"], conv2["padding"], "conv2")(x)
    x = keras.layers.MaxPooling2D(3, 2, padding=pool2, name="pool2")(x)
    x = LocalResponseNormalization(name="norm2")(x)
    for i in (3, 4, 5):
        if f"conv{i}" not in remove:
            x = conv(conv_filters[i - 1], 3, 1, "same", f"conv{i}")(x)
    return x


def _classifier(x, init, num_classes, remove, fc_units, dropout):
    """pool5, then fc6 and fc7 (each with dropout) and the softmax fc8."""
    x = keras.layers.MaxPooling2D(3, 2, padding="valid", name="pool5")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    for i in (6, 7):
        if f"fc{i}" not in remove:
            x = keras.layers.Dense(
                fc_units, activation="relu", kernel_initializer=init(),
                bias_initializer="zeros", name=f"fc{i}",
            )(x)
            x = keras.layers.Dropout(dropout, name=f"drop{i}")(x)
    return keras.layers.Dense(
        num_classes, activation="softmax", kernel_initializer=init(),
        bias_initializer="zeros", name="fc8",
    )(x)

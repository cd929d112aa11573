"""Deconvnet.receptive_field against the support of a gradient.

Models with positive random weights, linear activations and positive
images: every input pixel in a unit's receptive field then has a positive
input-gradient, so the bounding box of the gradient's support IS the
receptive field. Max pools are swapped for average pools of the same
geometry in the gradient twin (a max pool's gradient reaches only its
switches).
"""

import numpy as np
import pytest
import keras
import tensorflow as tf

from zfkeras.deconv import Deconvnet

L = keras.layers


def _positive(model, seed):
    rng = np.random.RandomState(seed)
    model.set_weights([rng.uniform(0.5, 1.5, w.shape).astype("float32") for w in model.get_weights()])
    return model


def _chain(pool, shape=(23, 22, 2)):
    """Odd and even kernels, strides, VALID/SAME, ZeroPadding2D, Cropping2D."""
    return keras.Sequential([
        keras.Input(shape),
        L.ZeroPadding2D(((2, 1), (0, 3)), name="zp"),
        L.Conv2D(3, 4, strides=2, padding="same", name="even_same"),
        pool(3, strides=2, padding="same", name="pool_same"),
        L.Conv2D(3, 3, padding="valid", name="odd_valid"),
        L.Cropping2D(((1, 0), (0, 1)), name="crop"),
        L.Conv2D(3, 2, strides=1, padding="same", name="even_same_s1"),
        pool(2, name="pool_valid"),
    ])


def _branches(shape=(21, 21, 2)):
    """A residual block (5x5 path beside a 1x1 path) and a concatenation."""
    inp = keras.Input(shape)
    x = L.Conv2D(3, 3, strides=2, name="stem")(inp)
    a = L.Conv2D(3, 5, padding="same", name="wide")(x)
    b = L.Conv2D(3, 1, name="narrow")(x)
    s = L.Add(name="add")([a, b])
    c = L.Concatenate(name="cat")([s, L.AveragePooling2D(3, 1, padding="same", name="avg")(x)])
    return keras.Model(inp, L.Conv2D(3, 3, strides=2, padding="same", name="top")(c))


def _support_boxes(model, layer_name, positions):
    """Bounding boxes of the input-gradient support of every channel at each position."""
    sub = keras.Model(model.inputs[0], model.get_layer(layer_name).output)
    n = len(positions)
    images = tf.ones((n, *model.input_shape[1:]))
    with tf.GradientTape() as tape:
        tape.watch(images)
        act = sub(images)
    seed = np.zeros(act.shape, "float32")
    seed[np.arange(n), positions[:, 0], positions[:, 1], :] = 1
    grad = tape.gradient(act, images, output_gradients=tf.constant(seed)).numpy()
    boxes = []
    for g in np.abs(grad).sum(-1) > 0:
        ys, xs = np.nonzero(g)
        boxes.append((0, 0, 0, 0) if len(ys) == 0 else (ys.min(), xs.min(), ys.max() + 1, xs.max() + 1))
    return np.array(boxes)


def _all_positions(h, w):
    return np.stack(np.meshgrid(np.arange(h), np.arange(w), indexing="ij"), -1).reshape(-1, 2)


def _check_every_layer(model, twin):
    deconv = Deconvnet(model)
    for layer in deconv.layer_names:
        h, w, _ = deconv.layer_output_shape(layer)
        positions = _all_positions(h, w)
        ours = deconv.receptive_field(layer, positions)
        assert ours.shape == (len(positions), 4)
        np.testing.assert_array_equal(ours, _support_boxes(twin, layer, positions), err_msg=layer)


def test_chain_geometry_matches_gradient_support():
    keras.utils.set_random_seed(20)
    model = _positive(_chain(L.MaxPooling2D), seed=1)
    twin = _chain(L.AveragePooling2D)
    twin.set_weights(model.get_weights())
    _check_every_layer(model, twin)


def test_dilated_box_is_the_window_span():
    """A dilated window has holes: the box is its span, clipped. It equals the
    gradient's support where the span lies inside the image and contains it
    everywhere (at the border the first or last tap may fall on padding)."""
    keras.utils.set_random_seed(22)
    model = _positive(keras.Sequential([
        keras.Input((15, 16, 1)),
        L.Conv2D(2, 3, padding="same", dilation_rate=2, name="dilated"),
        L.Conv2D(2, 2, padding="same", dilation_rate=(3, 1), name="dilated_even"),
    ]), seed=3)
    deconv = Deconvnet(model)
    for layer in deconv.layer_names:
        h, w, _ = deconv.layer_output_shape(layer)
        positions = _all_positions(h, w)
        ours = deconv.receptive_field(layer, positions)
        support = _support_boxes(model, layer, positions)
        assert (ours[:, :2] <= support[:, :2]).all() and (ours[:, 2:] >= support[:, 2:]).all()
        inside = (ours[:, 0] > 0) & (ours[:, 1] > 0) & (ours[:, 2] < 15) & (ours[:, 3] < 16)
        assert inside.sum() >= 10
        np.testing.assert_array_equal(ours[inside], support[inside])


def test_branches_give_the_union_over_paths():
    keras.utils.set_random_seed(21)
    model = _positive(_branches(), seed=2)
    _check_every_layer(model, model)
    deconv = Deconvnet(model)
    # the 5x5 path dominates the 1x1 one: the add sees 3 + 2 * 4 = 11 pixels
    top, left, bottom, right = deconv.receptive_field("add", (4, 4))
    assert (bottom - top, right - left) == (11, 11)


def test_single_position_gives_a_tuple_of_ints():
    model = _chain(L.MaxPooling2D)
    deconv = Deconvnet(model)
    box = deconv.receptive_field("odd_valid", (0, 0))
    assert isinstance(box, tuple) and len(box) == 4 and all(type(v) is int for v in box)
    # corner units are clipped to the image: top-left starts at the origin
    assert box[:2] == (0, 0)
    assert deconv.receptive_field("zp", (0, 0)) == (0, 0, 0, 0)  # padding sees no pixel


def test_image_shape_for_models_of_any_size():
    model = keras.Sequential([keras.Input((None, None, 1)), L.Conv2D(2, 3, strides=2, name="c")])
    deconv = Deconvnet(model)
    assert deconv.receptive_field("c", (1, 2), image_shape=(9, 9)) == (2, 4, 5, 7)
    assert deconv.layer_output_shape("c", (9, 11)) == (4, 5, 2)
    with pytest.raises(ValueError, match="input size is not fixed.*pass image_shape"):
        deconv.receptive_field("c", (0, 0))
    with pytest.raises(ValueError, match="image_shape.*must be a positive integer, got 0"):
        deconv.layer_output_shape("c", (0, 9))


def test_bad_positions_are_refused():
    deconv = Deconvnet(_chain(L.MaxPooling2D))
    h, w, _ = deconv.layer_output_shape("odd_valid")
    with pytest.raises(ValueError, match=rf"position \({h}, 0\) is out of range.*{h}x{w}"):
        deconv.receptive_field("odd_valid", (h, 0))
    with pytest.raises(ValueError, match="position must be.*integer"):
        deconv.receptive_field("odd_valid", (0.5, 1.0))
    with pytest.raises(ValueError, match="position must be"):
        deconv.receptive_field("odd_valid", [[1, 2, 3]])
    with pytest.raises(ValueError, match="unknown layer 'nope'"):
        deconv.receptive_field("nope", (0, 0))

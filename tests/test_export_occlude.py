"""The exported ``occlude`` signature equals zfkeras.occlusion without zfkeras, and every
signature declares its image input as (None, H, W, C) uint8."""

import numpy as np
import pytest
import tensorflow as tf

from tests import export_helpers as helpers

SIZE, STRIDE = 6, 1  # the export's defaults at 28 px: round(50 / 224 * 28), a fifth of it


def test_occlude_signature_matches_the_library_in_a_process_without_zfkeras(tiny_export, tiny_export_response):
    from zfkeras.methods.occlusion import occlusion

    model, _ = tiny_export
    raw, _, response = tiny_export_response
    inputs = helpers.preprocess(raw)
    want = occlusion(model, inputs, SIZE, STRIDE, layer="conv5", verbose=0)
    rows = (28 - SIZE) // STRIDE + 1
    assert response["occlude/class_probability"].shape == (len(raw), rows, rows)
    for key in ("class_probability", "layer_activity", "unoccluded_probability"):
        ours, reference = response[f"occlude/{key}"], getattr(want, key)
        scale = max(1.0, float(np.abs(reference).max()))
        assert float(np.abs(ours - reference).max()) <= 1e-5 * scale, key
    for key, reference in (("predicted_label", want.predicted_label), ("strongest_channel", want.strongest_channel),
                           ("true_label", want.true_label)):
        np.testing.assert_array_equal(response[f"occlude/{key}"], reference)
        assert response[f"occlude/{key}"].dtype == np.int32
    # the square matters: the map is not flat
    assert np.ptp(response["occlude/class_probability"], axis=(1, 2)).max() > 1e-3


def test_every_signature_declares_uint8_images_of_the_model_size(tiny_export_loaded):
    assert "occlude" in tiny_export_loaded.signatures
    for name, fn in tiny_export_loaded.signatures.items():
        spec = fn.structured_input_signature[1]["images"]
        assert spec.dtype == tf.uint8 and spec.shape.as_list() == [None, 28, 28, 1], name


def test_occlude_refuses_bad_images(tiny_export_loaded):
    occlude = tiny_export_loaded.signatures["occlude"]
    good = helpers.raw_digits(2)
    with pytest.raises((ValueError, TypeError, tf.errors.InvalidArgumentError)):
        occlude(images=tf.constant(good[:, :20]))  # wrong size: the declared shape refuses it
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"images must be uint8 shaped \(N, 28, 28, 1\)"):
        occlude(images=tf.constant(good[:0]))  # empty: the in-graph check


def test_export_flags_fix_the_square(tmp_path):
    from zfkeras.utils.errors import InputError
    from zfkeras.export import export_model

    model = helpers.tiny_model()
    path = export_model(model, tmp_path, helpers.CLASS_NAMES, preprocessing=helpers.preprocessing_layer(),
                        occlude_size=10, occlude_stride=9, occlude_layer="conv3", explain_methods=[])
    out = tf.saved_model.load(str(path)).signatures["occlude"](images=tf.constant(helpers.raw_digits(1)))
    assert out["class_probability"].shape == (1, 3, 3) and out["layer_activity"].shape == (1, 3, 3)
    with pytest.raises(InputError, match="larger than the image"):
        export_model(model, tmp_path, helpers.CLASS_NAMES, occlude_size=29)
    with pytest.raises(InputError, match="occlude_layer 'fc7'"):
        export_model(model, tmp_path, helpers.CLASS_NAMES, occlude_layer="fc7")

"""The export's project signatures, one per backward rule: ``project`` is the
deconvnet as before, ``project_guided_backprop`` and ``project_gradient``
serve the other two rules, each equal to `Deconvnet.project(method=...)`."""

import numpy as np
import pytest
import tensorflow as tf

from tests import export_helpers as helpers
from zfkeras.methods.unit import Unit


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from zfkeras.export import export_model

    model = helpers.tiny_model()
    path = export_model(model, tmp_path_factory.mktemp("export"), helpers.CLASS_NAMES,
                        preprocessing=helpers.preprocessing_layer(), deconvnet_layers=["conv1", "conv3", "pool5"],
                        explain_methods=[])
    return model, tf.saved_model.load(str(path))


@pytest.mark.parametrize("signature, method", [("project", "deconvnet"),
                                               ("project_guided_backprop", "guided_backprop"),
                                               ("project_gradient", "gradient")])
def test_each_signature_serves_its_rule(exported, signature, method):
    from zfkeras import Deconvnet

    model, loaded = exported
    raw = helpers.raw_digits(4)
    deconv = Deconvnet(model)
    channels = np.array([0, 3, 5, 1], np.int32)
    out = loaded.signatures[signature](images=tf.constant(raw), layer=tf.constant("conv3"),
                                       channel=tf.constant(channels))
    expected = deconv.project(helpers.preprocess(raw), Unit("conv3", channels), method=method)
    assert np.abs(expected).max() > 0
    np.testing.assert_allclose(out["projection"].numpy(), expected, rtol=1e-4,
                               atol=1e-5 * np.abs(expected).max())
    other = "gradient" if method != "gradient" else "deconvnet"
    assert not np.allclose(out["projection"].numpy(),
                           deconv.project(helpers.preprocess(raw), Unit("conv3", channels), method=other))


def test_bad_requests_are_refused_by_every_project_signature(exported):
    _, loaded = exported
    raw = helpers.raw_digits(2)
    for name in ("project_guided_backprop", "project_gradient"):
        with pytest.raises(tf.errors.InvalidArgumentError, match="channel out of range for layer"):
            loaded.signatures[name](images=tf.constant(raw), layer=tf.constant("conv1"),
                                    channel=tf.constant([0, 99], tf.int32))

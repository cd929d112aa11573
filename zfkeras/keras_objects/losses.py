"""Cross-entropy on integer labels with label smoothing.

Keras' `SparseCategoricalCrossentropy` has no ``label_smoothing`` (only the
one-hot `CategoricalCrossentropy` does); the training pipelines yield
integer labels, and the metrics (accuracy, sparse top-5) expect them, so the
smoothing happens inside the loss.
"""

import keras
from keras import ops

from zfkeras.utils.validation import float_in_range


@keras.saving.register_keras_serializable(package="zfkeras")
class SparseSmoothedCrossentropy(keras.losses.Loss):
    """Cross-entropy of integer labels against smoothed one-hot targets.

    The target of a label ``c`` among ``K`` classes is
    ``(1 - label_smoothing) * onehot(c) + label_smoothing / K``, as in
    `keras.losses.CategoricalCrossentropy(label_smoothing=...)`; with
    ``label_smoothing=0`` the loss equals `SparseCategoricalCrossentropy`.

    Args:
        label_smoothing: in [0, 1).
        from_logits: whether predictions are logits (default: probabilities).
        name: the loss's name.
    """

    def __init__(self, label_smoothing=0.1, from_logits=False, name="sparse_smoothed_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.label_smoothing = float_in_range(label_smoothing, "label_smoothing", 0, 1, high_inclusive=False)
        self.from_logits = bool(from_logits)

    def call(self, y_true, y_pred):
        classes = ops.shape(y_pred)[-1]
        labels = ops.reshape(ops.cast(y_true, "int32"), ops.shape(y_pred)[:-1])
        target = ops.one_hot(labels, classes, dtype=y_pred.dtype)
        return keras.losses.categorical_crossentropy(
            target, y_pred, from_logits=self.from_logits, label_smoothing=self.label_smoothing)

    def get_config(self):
        config = super().get_config()
        config.update(label_smoothing=self.label_smoothing, from_logits=self.from_logits)
        return config

"""Feature evolution during training (Zeiler & Fergus 2014, Fig. 4).

At chosen epochs, for a fixed random subset of feature maps in each layer,
the strongest activation over a fixed sample of training images is
projected to pixel space with the deconvnet. Seen side by side across
epochs, the projections show lower layers settling within a few epochs and
upper layers only much later.
"""

import os
import time

import numpy as np
import keras
import tensorflow as tf

from zfkeras.utils.atomic import atomic_path
from zfkeras.deconv import Deconvnet
from zfkeras.utils.display import projections_to_images
from zfkeras.utils.inputs import check_image_shape, check_images
from zfkeras.keras_objects.precision import float32_model, is_float32
from zfkeras.runs.layout import EVOLUTION_PATTERN
from zfkeras.train.filters import tile_images, write_image_summary
from zfkeras.utils.validation import non_negative_int, positive_int
from zfkeras.methods.unit import Unit

PAPER_EPOCHS = (1, 2, 5, 10, 20, 30, 40, 64)
CONV_LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5")


class FeatureEvolution(keras.callbacks.Callback):
    """Projects each chosen feature map's strongest activation at chosen epochs.

    The strongest activation is searched over `images`, a fixed sample of
    preprocessed training images chosen by the caller, not over the whole
    training set as in the paper (that would cost a full forward pass over
    the data at every recorded epoch). The caller should keep which training
    examples the sample holds; `image_ids` carries their indices into the
    saved results.

    Feature maps are drawn once, with `numpy.random.RandomState(seed)`, when
    training begins: ``maps_per_layer`` channels per layer (all of them if
    the layer has fewer), the same at every recorded epoch. The deconvnet
    reads the model's weights live, so one `Deconvnet` follows training.

    At the end of each recorded epoch (1-based) it writes:

    - one TensorBoard image per layer, tag ``evolution/{layer}``, step =
      epoch: the chosen maps' projections in one row, each shown by
      `zfkeras.utils.display.projection_to_image` (zero is grey), exactly as the
      report's Fig. 4 shows them;
    - ``out_dir/evolution_epoch_{epoch:03d}.npz``, written atomically, with
      per layer ``{layer}_projections`` (M, H, W, C) float32,
      ``{layer}_channels`` (M,), ``{layer}_image_ids`` (M,),
      ``{layer}_positions`` (M, 2) as (y, x) in the layer's maps and
      ``{layer}_values`` (M,) the activations projected; plus ``epoch`` and
      ``layers``.

    Args:
        images: ``(N, H, W, C)`` preprocessed training images, N >= 1.
        log_dir: folder for the TensorBoard event file.
        out_dir: folder for the ``.npz`` results.
        epochs: 1-based epochs to record (the paper's by default).
        total_epochs: the run's last epoch, always recorded; None takes
            ``epochs`` of the current `fit` call.
        layers: names of the layers to follow (any layer the deconvnet
            mirrors).
        maps_per_layer: feature maps followed per layer.
        image_ids: indices of `images` in the training set (default
            ``arange(N)``).
        seed: seed of the feature-map choice.
        batch_size: images per forward pass in the search.

    Attributes:
        history: ``[{"epoch": e, "seconds": s}, ...]``, wall time of every
            recorded step (search, projection and writing).
        total_seconds: their sum.
        channels: ``{layer: chosen channel indices}`` once training began.
    """

    def __init__(
        self,
        images,
        log_dir,
        out_dir,
        epochs=PAPER_EPOCHS,
        total_epochs=None,
        layers=CONV_LAYERS,
        maps_per_layer=8,
        image_ids=None,
        seed=0,
        batch_size=256,
    ):
        super().__init__()
        # The model is not known yet: its input shape is checked in _prepare.
        self.images = images = check_images(images, name="images")

        if isinstance(epochs, (str, bytes)) or not hasattr(epochs, "__iter__"):
            raise ValueError(f"epochs must be a sequence of positive ints, got {epochs!r}")
        self.epochs = tuple(sorted({positive_int(e, "every entry of epochs") for e in epochs}))
        self.total_epochs = None if total_epochs is None else positive_int(total_epochs, "total_epochs")

        if isinstance(layers, str):
            layers = (layers,)  # one name, not its characters
        layers = tuple(layers)
        if not layers or not all(isinstance(l, str) and l for l in layers):
            raise ValueError(f"layers must be a non-empty sequence of layer names, got {layers!r}")
        if len(set(layers)) != len(layers):
            raise ValueError(f"layers has duplicates: {layers!r}")
        self.layers = layers
        self.maps_per_layer = positive_int(maps_per_layer, "maps_per_layer")
        self.batch_size = positive_int(batch_size, "batch_size")
        self.seed = seed

        n = images.shape[0]
        if image_ids is None:
            image_ids = np.arange(n)
        image_ids = np.asarray(image_ids)
        if image_ids.shape != (n,) or not np.issubdtype(image_ids.dtype, np.integer):
            raise ValueError(
                f"image_ids must be {n} integers, one per image; got shape {image_ids.shape} "
                f"and dtype {image_ids.dtype}"
            )
        self.image_ids = image_ids

        self.log_dir = os.fspath(log_dir)
        self.out_dir = os.fspath(out_dir)
        self.history = []
        self.channels = {}
        self._prepared_for = None
        self._writer = None

    @property
    def total_seconds(self):
        """Wall time of all recorded steps, in seconds."""
        return float(sum(h["seconds"] for h in self.history))

    def should_record(self, epoch):
        """Whether the 1-based `epoch` is recorded."""
        last = self.total_epochs
        if last is None:
            last = (self.params or {}).get("epochs")
        return epoch in self.epochs or (last is not None and epoch == last)

    # -- Keras hooks -------------------------------------------------------

    def on_train_begin(self, logs=None):
        self._prepare()

    def on_epoch_end(self, epoch, logs=None):
        # Keras counts from 0 (and keeps counting across `initial_epoch`).
        if self.should_record(epoch + 1):
            self.record(epoch + 1)

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    # -- the work ----------------------------------------------------------

    def record(self, epoch):
        """Finds, projects and saves the chosen maps' strongest activations now.

        Args:
            epoch: the 1-based epoch to file the results under (0 for the
                untrained model is accepted too).

        Returns:
            Dict of the arrays written to the ``.npz`` file.
        """
        epoch = non_negative_int(epoch, "epoch")
        start = time.perf_counter()
        self._prepare()
        values, image_index, positions = self._strongest()
        results = {"epoch": np.int32(epoch), "layers": np.array(self.layers)}
        for layer in self.layers:
            projections = self._deconv.project(
                self.images[image_index[layer]],
                Unit(layer, self.channels[layer], positions[layer]),
                batch_size=self.batch_size,
            )
            results[f"{layer}_projections"] = projections.astype(np.float32, copy=False)
            results[f"{layer}_channels"] = self.channels[layer]
            results[f"{layer}_image_ids"] = self.image_ids[image_index[layer]]
            results[f"{layer}_positions"] = positions[layer]
            results[f"{layer}_values"] = values[layer]
        self._write_summaries(epoch, results)
        self._save(epoch, results)
        self.history.append({"epoch": epoch, "seconds": time.perf_counter() - start})
        return results

    def _prepare(self):
        model = self.model
        if model is None:
            raise ValueError("FeatureEvolution has no model: pass it to fit(callbacks=...) first")
        if self._prepared_for is model:
            return
        if not is_float32(model):
            # A mixed-precision model: project a float32 copy of its weights
            # as they are now (prepared again at the next record).
            model = float32_model(model)
        deconv = Deconvnet(model)
        for layer in self.layers:
            if layer not in deconv.layer_names:
                raise ValueError(
                    f"FeatureEvolution: unknown layer {layer!r}; model {model.name!r} can "
                    f"project from {deconv.layer_names}"
                )
        check_image_shape(self.images.shape[1:], deconv.input_shape, model.name, "images")
        # One sub-model for all layers: one forward pass per batch.
        outputs = []
        for layer in self.layers:
            out = model.get_layer(layer).output
            outputs.append(out[0] if isinstance(out, (list, tuple)) else out)  # argmax pools
        rng = np.random.RandomState(self.seed)
        channels = {}
        for layer, out in zip(self.layers, outputs):
            count = int(out.shape[-1])
            chosen = rng.choice(count, min(self.maps_per_layer, count), replace=False)
            channels[layer] = np.sort(chosen).astype(np.int32)
        self._map_widths = {layer: int(out.shape[2]) for layer, out in zip(self.layers, outputs)}
        activation_model = keras.Model(model.inputs, outputs)
        gather = [tf.constant(channels[l]) for l in self.layers]

        @tf.function(reduce_retracing=True, jit_compile=False)
        def strongest_per_image(x):
            acts = activation_model(x, training=False)
            if not isinstance(acts, (list, tuple)):
                acts = [acts]
            found = []
            for act, chosen in zip(acts, gather):
                act = tf.gather(act, chosen, axis=-1)
                flat = tf.reshape(act, [tf.shape(act)[0], -1, tf.shape(chosen)[0]])
                found.append((tf.reduce_max(flat, axis=1), tf.argmax(flat, axis=1, output_type=tf.int32)))
            return found

        self._deconv = deconv
        self._strongest_per_image = strongest_per_image
        self.channels = channels
        self._prepared_for = model

    def _strongest(self):
        """Per layer: value, sample index and (y, x) of each chosen map's maximum."""
        best = {l: np.full(len(self.channels[l]), -np.inf, np.float32) for l in self.layers}
        where = {l: np.zeros(len(self.channels[l]), np.int64) for l in self.layers}
        flat_at = {l: np.zeros(len(self.channels[l]), np.int64) for l in self.layers}
        for start in range(0, len(self.images), self.batch_size):
            batch = tf.constant(self.images[start : start + self.batch_size])
            for layer, (maxima, argmax) in zip(self.layers, self._strongest_per_image(batch)):
                maxima, argmax = maxima.numpy(), argmax.numpy()  # (B, M)
                top = maxima.argmax(axis=0)  # first image wins ties
                top_value = maxima[top, np.arange(maxima.shape[1])]
                better = top_value > best[layer]  # earlier batches win ties
                best[layer] = np.where(better, top_value, best[layer])
                where[layer] = np.where(better, start + top, where[layer])
                flat_at[layer] = np.where(better, argmax[top, np.arange(maxima.shape[1])], flat_at[layer])
        positions = {}
        for layer in self.layers:
            width = self._map_widths[layer]
            positions[layer] = np.stack([flat_at[layer] // width, flat_at[layer] % width], axis=1).astype(np.int32)
        return best, where, positions

    def _write_summaries(self, epoch, results):
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        with self._writer.as_default():
            for layer in self.layers:
                shown = projections_to_images(results[f"{layer}_projections"])
                row = tile_images(shown, columns=len(shown))[None]
                write_image_summary(f"evolution/{layer}", row, step=epoch)
        self._writer.flush()

    def _save(self, epoch, results):
        final = os.path.join(self.out_dir, EVOLUTION_PATTERN.format(epoch=epoch))
        with atomic_path(final) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, **results)
        return final

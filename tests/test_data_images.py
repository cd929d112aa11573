"""The paper's image preprocessing on small folders of real photos."""

import os
import socket
import time
import warnings

import numpy as np
import pytest
import skimage.data
import tensorflow as tf
from PIL import Image
from sklearn.datasets import load_sample_images

import keras
import zfkeras.data as zd

IMAGE_SIZE = 16
CROP_SIZE = 12


def photos():
    """Six real photos (H, W, 3) uint8 of different shapes."""
    china, flower = load_sample_images().images
    return {
        "chelsea": skimage.data.chelsea(),
        "astronaut": skimage.data.astronaut(),
        "coffee": skimage.data.coffee(),
        "rocket": skimage.data.rocket(),
        "china": china,
        "flower": flower,
    }


def small(image, height, width):
    return np.asarray(Image.fromarray(image).resize((width, height), Image.BILINEAR))


@pytest.fixture(scope="module")
def sources():
    """Small variants; shortest side IMAGE_SIZE so resizing is the identity."""
    p = photos()
    return {
        "chelsea": small(p["chelsea"], IMAGE_SIZE, 24),  # landscape
        "astronaut": small(p["astronaut"], 20, IMAGE_SIZE),  # portrait
        "coffee": small(p["coffee"], IMAGE_SIZE, IMAGE_SIZE),
        "rocket": small(p["rocket"], IMAGE_SIZE, 21),
        "china": small(p["china"], IMAGE_SIZE, 23),
        "flower": small(p["flower"], 19, IMAGE_SIZE),
    }


# class -> names of the photos in it (classes listed out of order on purpose).
LAYOUT = {"dogs": ["chelsea", "astronaut"], "cats": ["coffee", "rocket"], "birds": ["china", "flower"]}


def write_folder(root, sources, ext="png", layout=LAYOUT):
    """Writes root/<class>/<photo>.<ext>; returns {path: (class, photo)}."""
    written = {}
    for cls, names in layout.items():
        os.makedirs(os.path.join(root, cls), exist_ok=True)
        for name in names:
            path = os.path.join(root, cls, f"{name}.{ext}")
            Image.fromarray(sources[name]).save(path, **({"quality": 95} if ext == "jpg" else {}))
            written[path] = (cls, name)
    return written


def numpy_center_crop(image, size):
    top, left = (image.shape[0] - size) // 2, (image.shape[1] - size) // 2
    return image[top : top + size, left : left + size]


def numpy_ten_crops(image, crop):
    h, w = image.shape[:2]
    corners = [(0, 0), (0, w - crop), (h - crop, 0), (h - crop, w - crop), ((h - crop) // 2, (w - crop) // 2)]
    crops = [image[t : t + crop, l : l + crop] for t, l in corners]
    return np.stack(crops + [c[:, ::-1] for c in crops])


def matching_source(image, candidates):
    """Name of the candidate equal to image, asserting exactly one."""
    hits = [name for name, c in candidates.items() if c.shape == image.shape and np.allclose(c, image, atol=1e-4)]
    assert len(hits) == 1, hits
    return hits[0]


def nearest_source(image, candidates):
    """Name of the clearly nearest candidate (for lossy JPEG round trips)."""
    errors = sorted((np.abs(c - image).mean(), name) for name, c in candidates.items())
    (best, name), (second, _) = errors[0], errors[1]
    assert best < 8.0 and second > 3 * best, errors
    return name


# ---------------------------------------------------------------------------
# Transforms.


def test_ten_crops_equal_numpy_slicing(sources):
    image = sources["chelsea"]  # 16 x 24
    crops = zd.ten_crops(image, CROP_SIZE).numpy()
    assert crops.shape == (10, CROP_SIZE, CROP_SIZE, 3)
    np.testing.assert_array_equal(crops, numpy_ten_crops(image, CROP_SIZE))
    # Spot checks that do not go through the helper.
    np.testing.assert_array_equal(crops[1], image[:12, 12:])
    np.testing.assert_array_equal(crops[4], image[2:14, 6:18])
    np.testing.assert_array_equal(crops[8], image[4:, 12:][:, ::-1])
    batch = np.stack([image, image[::-1]])
    np.testing.assert_array_equal(zd.ten_crops(batch, CROP_SIZE).numpy()[1], numpy_ten_crops(image[::-1], CROP_SIZE))
    for k in range(10):
        np.testing.assert_array_equal(zd.crop_of_ten(image, CROP_SIZE, k).numpy(), crops[k])


def test_ten_crops_rejects_crop_larger_than_image(sources):
    with pytest.raises(ValueError, match="crop_size 17"):
        zd.ten_crops(sources["coffee"], 17)


@pytest.mark.parametrize("shape, expected", [((30, 45), (16, 24)), ((45, 30), (24, 16)), ((16, 16), (16, 16)), ((8, 12), (16, 24))])
def test_resize_shortest_side(shape, expected):
    image = np.random.default_rng(0).integers(0, 256, shape + (3,), dtype=np.uint8)
    resized = zd.resize_shortest_side(image, 16)
    assert tuple(resized.shape[:2]) == expected
    out = zd.resize_and_center_crop(image, 16).numpy()
    assert out.shape == (16, 16, 3) and out.dtype == np.float32
    if shape == (16, 16):
        np.testing.assert_array_equal(out, image.astype(np.float32))


# ---------------------------------------------------------------------------
# Folder listing, decoding, mean image.


def test_list_image_files_labels_sorted_and_recursive(tmp_path, sources):
    written = write_folder(tmp_path, sources, "jpg")
    nested = tmp_path / "cats" / "more"
    nested.mkdir()
    Image.fromarray(sources["coffee"]).save(nested / "again.JPEG")
    (tmp_path / "cats" / "notes.txt").write_text("not an image")
    (tmp_path / "cats" / ".hidden.jpg").write_bytes(b"")
    paths, labels, class_names = zd.list_image_files(tmp_path)
    assert class_names == ["birds", "cats", "dogs"]
    assert str(nested / "again.JPEG") in paths
    assert len(paths) == 7
    for path, label in zip(paths, labels):
        cls = written[path][0] if path in written else "cats"
        assert class_names[label] == cls
    # An explicit order maps labels to it; unknown folders are refused.
    paths2, labels2, _ = zd.list_image_files(tmp_path, class_names=["dogs", "cats", "birds", "fish"])
    assert dict(zip(paths2, labels2.tolist())) == dict(zip(paths, (2 - labels).tolist()))
    with pytest.raises(ValueError, match="not in class_names"):
        zd.list_image_files(tmp_path, class_names=["dogs", "cats"])


def test_folder_errors_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        zd.image_folder_dataset(tmp_path / "nope")
    (tmp_path / "flat").mkdir()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "flat" / "a.png")
    with pytest.raises(ValueError, match="no class sub-folders"):
        zd.image_folder_dataset(tmp_path / "flat")
    (tmp_path / "empty" / "cls").mkdir(parents=True)
    with pytest.raises(ValueError, match="No image files"):
        zd.image_folder_dataset(tmp_path / "empty")
    (tmp_path / "flat" / "cls").mkdir()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "flat" / "cls" / "a.png")
    with pytest.raises(ValueError, match="mode must be one of"):
        zd.image_folder_dataset(tmp_path / "flat", mode="test")
    with pytest.raises(ValueError, match="batch_size must be a positive integer or None"):
        zd.image_folder_dataset(tmp_path / "flat", batch_size="32")
    with pytest.raises(ValueError, match="must not exceed image_size"):
        zd.image_folder_dataset(tmp_path / "flat", image_size=8, crop_size=9)
    with pytest.raises(ValueError, match=r"mean_image has shape \(4, 4, 3\)"):
        zd.image_folder_dataset(tmp_path / "flat", image_size=8, crop_size=4, mean_image=np.zeros((4, 4, 3)))


def test_decodes_jpeg_png_bmp_gif(tmp_path, sources):
    root = tmp_path / "formats"
    expected = {}
    for ext, name in [("jpg", "chelsea"), ("png", "coffee"), ("bmp", "rocket"), ("gif", "china")]:
        (root / ext).mkdir(parents=True)
        pil_image = Image.fromarray(sources[name])
        if ext == "gif":
            # GIF stores a palette image: compare with the palette colours.
            pil_image = pil_image.convert("P", palette=Image.ADAPTIVE)
        pil_image.save(root / ext / f"{name}.{ext}")
        image = np.asarray(pil_image.convert("RGB"))
        expected[ext] = numpy_center_crop(image, IMAGE_SIZE).astype(np.float32)
    data = zd.image_folder_dataset(root, mode="full", image_size=IMAGE_SIZE, crop_size=CROP_SIZE, batch_size=None)
    assert data.report.num_bad == 0
    for image, label in data:
        ext = data.class_names[int(label)]
        if ext == "jpg":
            # Lossy: TF's decode is close to the source, on average.
            assert np.abs(image.numpy() - expected[ext]).mean() < 8.0
        else:
            np.testing.assert_array_equal(image.numpy(), expected[ext])


def test_mean_image_equals_numpy_mean_and_round_trips(tmp_path, sources):
    write_folder(tmp_path / "train", sources)
    expected = np.mean(
        [numpy_center_crop(img, IMAGE_SIZE).astype(np.float64) for img in sources.values()], axis=0
    )
    mean = zd.compute_mean_image(tmp_path / "train", image_size=IMAGE_SIZE, batch_size=4)
    assert mean.shape == (IMAGE_SIZE, IMAGE_SIZE, 3) and mean.dtype == np.float32
    np.testing.assert_allclose(mean, expected, rtol=0, atol=1e-4)
    # Same result from a list of paths and from a dataset of (image, label).
    paths, labels, _ = zd.list_image_files(tmp_path / "train")
    np.testing.assert_allclose(zd.compute_mean_image(paths, IMAGE_SIZE), mean, atol=1e-4)
    dataset = tf.data.Dataset.from_generator(
        lambda: ((np.asarray(Image.open(p)), l) for p, l in zip(paths, labels)),
        output_signature=(tf.TensorSpec((None, None, 3), tf.uint8), tf.TensorSpec((), tf.int64)),
    )
    np.testing.assert_allclose(zd.compute_mean_image(dataset, IMAGE_SIZE), mean, atol=1e-4)

    run_dir = tmp_path / "run"
    with pytest.raises(FileNotFoundError, match="No mean image"):
        zd.load_mean_image(run_dir)
    path = zd.save_mean_image(mean, run_dir)
    assert path == str(run_dir / "mean_image.npy")
    np.testing.assert_array_equal(zd.load_mean_image(run_dir, IMAGE_SIZE), mean)
    with pytest.raises(ValueError, match="16x16 mean image, but image_size is 32"):
        zd.load_mean_image(run_dir, 32)
    # mean_image_for_run loads an existing file instead of recomputing.
    np.save(path, np.full_like(mean, 7.0))
    np.testing.assert_array_equal(zd.mean_image_for_run(run_dir, tmp_path / "train", IMAGE_SIZE), 7.0)
    fresh = zd.mean_image_for_run(tmp_path / "run2", tmp_path / "train", IMAGE_SIZE)
    np.testing.assert_allclose(fresh, expected, atol=1e-4)
    assert os.path.isfile(tmp_path / "run2" / "mean_image.npy")


# ---------------------------------------------------------------------------
# Pipelines.


def test_center_mode_exact_pixels_and_labels(tmp_path, sources):
    written = write_folder(tmp_path, sources)
    mean = np.random.default_rng(1).uniform(0, 255, (IMAGE_SIZE, IMAGE_SIZE, 3)).astype(np.float32)
    data = zd.image_folder_dataset(
        tmp_path, mode="center", image_size=IMAGE_SIZE, crop_size=CROP_SIZE, mean_image=mean, batch_size=4
    )
    assert data.class_names == ["birds", "cats", "dogs"]
    expected = {
        path: numpy_center_crop(numpy_center_crop(sources[name], IMAGE_SIZE).astype(np.float32) - mean, CROP_SIZE)
        for path, (_, name) in written.items()
    }
    batches = list(data.as_numpy_iterator())
    assert [len(x) for x, _ in batches] == [4, 2]
    images = np.concatenate([x for x, _ in batches])
    labels = np.concatenate([y for _, y in batches])
    assert images.dtype == np.float32 and labels.dtype == np.int64
    # Not shuffled outside training: outputs follow data.file_paths.
    for image, label, path in zip(images, labels, data.file_paths):
        np.testing.assert_allclose(image, expected[path], atol=1e-4)
        assert data.class_names[label] == written[path][0]


def test_train_mode_draws_one_of_ten_crops_reproducibly(tmp_path, sources):
    written = write_folder(tmp_path, sources)
    mean = zd.compute_mean_image(tmp_path, IMAGE_SIZE)

    def make():
        return zd.image_folder_dataset(
            tmp_path, mode="train", image_size=IMAGE_SIZE, crop_size=CROP_SIZE, mean_image=mean, batch_size=3, seed=7
        )

    data = make()
    crops_of = {
        name: numpy_ten_crops(numpy_center_crop(img, IMAGE_SIZE).astype(np.float32) - mean, CROP_SIZE)
        for name, img in sources.items()
    }
    labels_of = {name: data.class_names.index(cls) for cls, name in written.values()}
    used, orders, epochs = set(), [], []
    for _ in range(4):
        xs, ys = zip(*data.as_numpy_iterator())
        x, y = np.concatenate(xs), np.concatenate(ys)
        assert x.shape == (6, CROP_SIZE, CROP_SIZE, 3)
        order = []
        for image, label in zip(x, y):
            matches = [
                (name, k)
                for name, crops in crops_of.items()
                for k in range(10)
                if np.allclose(crops[k], image, atol=1e-4)
            ]
            assert matches, "a training example is none of the 10 crops"
            name, k = matches[0]
            assert label == labels_of[name]
            used.add(k)
            order.append(name)
        assert sorted(order) == sorted(sources)  # every image once per epoch
        orders.append(order)
        epochs.append(x)
    assert len(used) >= 4  # the crop changes between examples and epochs
    assert len({tuple(o) for o in orders}) > 1  # reshuffled every epoch
    # Same seed, same sequence of epochs.
    again = make()
    for epoch in epochs[:2]:
        np.testing.assert_array_equal(np.concatenate([x for x, _ in again.as_numpy_iterator()]), epoch)


def test_predict_ten_crop_equals_manual_average(tmp_path, sources):
    write_folder(tmp_path, sources)
    data = zd.image_folder_dataset(tmp_path, mode="full", image_size=IMAGE_SIZE, crop_size=CROP_SIZE, batch_size=4)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((CROP_SIZE, CROP_SIZE, 3)), keras.layers.Rescaling(1 / 255.0), keras.layers.Flatten(), keras.layers.Dense(5, activation="softmax")]
    )
    probs = zd.predict_ten_crop(model, data, crop_size=CROP_SIZE)
    assert probs.shape == (6, 5)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    w, b = [v.numpy() for v in model.layers[-1].weights]
    for row, path in zip(probs, data.file_paths):
        name = os.path.splitext(os.path.basename(path))[0]
        crops = numpy_ten_crops(numpy_center_crop(sources[name], IMAGE_SIZE).astype(np.float64), CROP_SIZE)
        logits = (crops.reshape(10, -1) / 255.0) @ w + b
        softmax = np.exp(logits - logits.max(1, keepdims=True))
        softmax /= softmax.sum(1, keepdims=True)
        np.testing.assert_allclose(row, softmax.mean(0), atol=1e-5)
        # Not simply the centre crop's prediction.
        assert not np.allclose(row, softmax[4], atol=1e-6)
    # from_logits applies the softmax first.
    logit_model = keras.Sequential([keras.Input((CROP_SIZE, CROP_SIZE, 3))] + model.layers[:-1] + [keras.layers.Dense(5)])
    logit_model.layers[-1].set_weights([w, b])
    np.testing.assert_allclose(zd.predict_ten_crop(logit_model, data, CROP_SIZE, from_logits=True), probs, atol=1e-5)


# ---------------------------------------------------------------------------
# Corrupt files.


def write_corrupt_files(root, sources):
    """A truncated JPEG, text named .jpg, an empty .png; returns their paths."""
    jpeg = root / "cats" / "truncated.jpg"
    Image.fromarray(photos()["chelsea"]).save(jpeg, quality=90)
    data = jpeg.read_bytes()
    jpeg.write_bytes(data[: len(data) // 2])
    text = root / "dogs" / "readme.jpg"
    text.write_text("this is a text file, not a JPEG\n")
    empty = root / "birds" / "empty.png"
    empty.write_bytes(b"")
    return sorted([str(jpeg), str(text), str(empty)])


def test_a_report_is_reused_without_decoding_again(tmp_path, sources, monkeypatch):
    write_folder(tmp_path, sources)
    bad = write_corrupt_files(tmp_path, sources)
    with pytest.warns(UserWarning):
        first = zd.image_folder_dataset(tmp_path, mode="center", image_size=IMAGE_SIZE, crop_size=CROP_SIZE)
    import zfkeras.data.images as images_module

    def no_second_check(paths):
        raise AssertionError("files decoded again")

    monkeypatch.setattr(images_module, "check_image_files", no_second_check)
    again = zd.image_folder_dataset(
        tmp_path, mode="full", image_size=IMAGE_SIZE, crop_size=CROP_SIZE, validate=first.report
    )
    assert again.report is first.report
    assert sorted(again.file_paths) == sorted(first.file_paths)
    assert not set(bad) & set(again.file_paths)
    assert sum(int(x.shape[0]) for x, _ in again) == 6


def test_corrupt_files_are_reported_by_name_and_left_out(tmp_path, sources):
    written = write_folder(tmp_path, sources)
    bad = write_corrupt_files(tmp_path, sources)
    with pytest.warns(UserWarning) as record:
        data = zd.image_folder_dataset(
            tmp_path, mode="center", image_size=IMAGE_SIZE, crop_size=CROP_SIZE, batch_size=2, shuffle=True, seed=0
        )
    message = str(record[0].message)
    assert "3 of 9 image files cannot be decoded" in message
    for path in bad:
        assert path in message
    report = data.report
    assert sorted(report.paths) == bad
    assert report.num_checked == 9 and report.num_bad == 3
    reasons = dict(report.bad_files)
    assert "Invalid JPEG data" in reasons[bad[1]] or "Invalid JPEG data" in reasons[bad[0]]
    assert "Unknown image file format" in reasons[str(tmp_path / "dogs" / "readme.jpg")]
    assert "empty" in reasons[str(tmp_path / "birds" / "empty.png")].lower()
    assert sorted(data.file_paths) == sorted(written)
    # Two full epochs run through, with every good file and its label.
    candidates = {
        path: numpy_center_crop(numpy_center_crop(sources[name], IMAGE_SIZE), CROP_SIZE).astype(np.float32)
        for path, (_, name) in written.items()
    }
    for _ in range(2):
        seen = []
        for x, y in data.as_numpy_iterator():
            for image, label in zip(x, y):
                path = matching_source(image, candidates)
                assert data.class_names[label] == written[path][0]
                seen.append(path)
        assert sorted(seen) == sorted(written)


def test_check_image_files_and_all_bad(tmp_path, sources):
    write_folder(tmp_path, sources, layout={"dogs": ["chelsea"]})
    (tmp_path / "cats").mkdir()
    (tmp_path / "birds").mkdir()
    bad = write_corrupt_files(tmp_path, sources)
    good = str(tmp_path / "dogs" / "chelsea.png")
    report = zd.check_image_files([good] + bad)
    assert report.paths == bad and report.num_checked == 4
    assert str(zd.check_image_files([good])) == "All 1 image files decode."
    os.remove(good)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="can be decoded") as info:
            zd.image_folder_dataset(tmp_path)
    for path in bad:
        assert path in str(info.value)


# ---------------------------------------------------------------------------
# TFDS sources.


def test_tfds_image_folder(tmp_path, sources):
    layout = {"dogs": ["chelsea", "astronaut"], "cats": ["coffee"], "birds": ["china", "flower"]}
    written = write_folder(tmp_path / "train", sources, "jpg", layout)
    write_folder(tmp_path / "test", sources, "jpg", {"cats": ["rocket"]})
    bad = tmp_path / "train" / "birds" / "broken.jpg"
    bad.write_text("not a jpeg")
    with pytest.warns(UserWarning, match="broken.jpg"):
        data = zd.tfds_image_folder_dataset(
            tmp_path, "train", mode="full", image_size=IMAGE_SIZE, crop_size=CROP_SIZE, batch_size=None
        )
    assert data.class_names == ["birds", "cats", "dogs"]
    assert data.report.paths == [str(bad)]
    assert sorted(data.file_paths) == sorted(written)
    # JPEG decoding differs slightly between PIL and TF: match by nearest.
    candidates = {name: numpy_center_crop(sources[name], IMAGE_SIZE).astype(np.float32) for name in sources}
    seen = []
    for image, label in data.as_numpy_iterator():
        name = nearest_source(image, candidates)
        assert data.class_names[label] == next(c for c, n in written.values() if n == name)
        seen.append(name)
    assert sorted(seen) == sorted(n for _, n in written.values())
    train = zd.tfds_image_folder_dataset(tmp_path, "test", image_size=IMAGE_SIZE, crop_size=CROP_SIZE, batch_size=2)
    x, y = next(iter(train))
    assert x.shape == (1, CROP_SIZE, CROP_SIZE, 3) and int(y[0]) == 1  # "cats"
    with pytest.raises(ValueError, match="no split 'validation'"):
        zd.tfds_image_folder_dataset(tmp_path, "validation")


@pytest.fixture
def no_network(monkeypatch):
    """Fails any socket connection, and records that one was attempted."""
    attempts = []

    def refuse(self, address, *args):
        attempts.append(address)
        raise OSError("network access attempted in a test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


def test_tfds_dataset_missing_data_fails_fast_without_network(tmp_path, no_network):
    start = time.perf_counter()
    with pytest.raises(FileNotFoundError, match="caltech-101.zip") as info:
        zd.tfds_dataset("caltech101", "train", data_dir=tmp_path / "tfds")
    assert "not prepared in" in str(info.value) and "manual_dir" in str(info.value)
    manual = tmp_path / "manual"
    manual.mkdir()
    with pytest.raises(FileNotFoundError, match="will not be downloaded") as info:
        zd.tfds_dataset("caltech101", "train", data_dir=tmp_path / "tfds", manual_dir=manual)
    assert str(manual / "caltech-101.zip") in str(info.value)
    with pytest.raises(FileNotFoundError, match="ILSVRC2012_img_train.tar"):
        zd.tfds_dataset("imagenet2012", "train", data_dir=tmp_path / "tfds", manual_dir=manual)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        zd.tfds_dataset("imagenet2012", "train", data_dir=tmp_path / "tfds", manual_dir=tmp_path / "nope")
    with pytest.raises(ValueError, match="no dataset named 'no_such_dataset_xyz'"):
        zd.tfds_dataset("no_such_dataset_xyz", "train")
    assert time.perf_counter() - start < 10
    assert no_network == []


def test_tfds_dataset_prepares_from_manual_dir(tmp_path, sources, no_network):
    import tensorflow_datasets as tfds

    class ZfkerasTinyPhotos(tfds.core.GeneratorBasedBuilder):
        """Two classes of photos read from manual_dir/<class>/*.png."""

        VERSION = tfds.core.Version("1.0.0")
        MANUAL_DOWNLOAD_INSTRUCTIONS = "Put <class>/<image>.png folders in manual_dir."

        def _info(self):
            return self.dataset_info_from_configs(
                features=tfds.features.FeaturesDict(
                    {"image": tfds.features.Image(shape=(None, None, 3)), "label": tfds.features.ClassLabel(names=["cats", "dogs"])}
                ),
                supervised_keys=("image", "label"),
            )

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples(dl_manager.manual_dir)}

        def _generate_examples(self, root):
            for label in ["cats", "dogs"]:
                for path in sorted((root / label).glob("*.png")):
                    yield str(path), {"image": str(path), "label": label}

    write_folder(tmp_path / "manual", sources, layout={"cats": ["coffee"], "dogs": ["chelsea", "astronaut"]})
    data = zd.tfds_dataset("zfkeras_tiny_photos", "train", data_dir=tmp_path / "tfds", manual_dir=tmp_path / "manual")
    assert data.class_names == ["cats", "dogs"]
    batches = zd.preprocess_dataset(data, mode="center", image_size=IMAGE_SIZE, crop_size=CROP_SIZE, batch_size=8)
    x, y = next(iter(batches))
    candidates = {n: numpy_center_crop(numpy_center_crop(sources[n], IMAGE_SIZE), CROP_SIZE).astype(np.float32) for n in sources}
    names = sorted(matching_source(image, candidates) for image in x.numpy())
    assert names == ["astronaut", "chelsea", "coffee"]
    assert sorted(y.numpy().tolist()) == [0, 1, 1]
    # Prepared now: loads without manual_dir.
    assert zd.tfds_dataset("zfkeras_tiny_photos", "train", data_dir=tmp_path / "tfds").cardinality() == 3
    assert no_network == []


# ---------------------------------------------------------------------------
# Array pipelines.


def test_dataset_options_pin_the_pipeline_threads():
    options = zd.dataset_options()
    assert options.autotune.enabled is False
    assert options.threading.private_threadpool_size == 1


def test_array_dataset_batches_shuffles_and_preprocesses():
    x = np.arange(10, dtype=np.float32).reshape(10, 1) * 10
    y = np.arange(10, dtype=np.int64)
    data = zd.array_dataset(x, y, batch_size=4, shuffle=True, seed=3, preprocess=lambda a, b: (a + 1, b))
    assert data.options().autotune.enabled is False
    assert data.options().threading.private_threadpool_size == 1
    epoch1 = list(data.as_numpy_iterator())
    epoch2 = list(data.as_numpy_iterator())
    assert [len(b) for b, _ in epoch1] == [4, 4, 2]
    xs1, ys1 = np.concatenate([b for b, _ in epoch1]), np.concatenate([l for _, l in epoch1])
    xs2 = np.concatenate([b for b, _ in epoch2])
    np.testing.assert_array_equal(xs1[:, 0], ys1 * 10 + 1)  # pairs kept, preprocess applied
    assert sorted(ys1) == list(range(10)) and list(ys1) != list(range(10))
    assert not np.array_equal(xs1, xs2)  # reshuffled each epoch
    again = zd.array_dataset(x, y, batch_size=4, shuffle=True, seed=3, preprocess=lambda a, b: (a + 1, b))
    np.testing.assert_array_equal(np.concatenate([b for b, _ in again.as_numpy_iterator()]), xs1)
    plain = list(zd.array_dataset(x, None, batch_size=10).as_numpy_iterator())
    np.testing.assert_array_equal(plain[0], x)


def test_array_dataset_errors():
    x = np.zeros((4, 2))
    with pytest.raises(ValueError, match="4 examples but y has shape \\(3,\\)"):
        zd.array_dataset(x, np.zeros(3), batch_size=2)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        zd.array_dataset(x, None, batch_size=0)
    with pytest.raises(ValueError, match="non-empty"):
        zd.array_dataset(np.zeros((0, 2)), None, batch_size=2)

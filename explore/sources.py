"""A training run or an explore entry, read the same way by the explorer.

`open_source(kind, run_id, path)` gives an object with: ``title``,
``load_model()``, ``class_names``, ``input_shape``, ``test_images()``
(the raw uint8 images top 9 are mined over, with their labels or None),
``spectrum_images()`` (``(raw uint8 images, params)``: the images whose
spectrum feature visualisation keeps, and what they are),
``preprocess(raw)``, ``read_image(path)`` (a photo cut as those images
are), ``evolution()``, ``mining_params`` and ``folder``, what
`zfkeras.runs.mined` stores mined results in, and ``image_side``, the
shortest side an upload must keep for ``read_image``. For a run these are
`zfkeras.runs.RunFolder`'s (the test split, ``load_split("test",
max_examples, seed=0)``, the same draw as the report's Fig. 2); for an
entry, `zfkeras.explore.entry`'s files.

`check_regular_files(folder)` is called before a source's files are
read: a FIFO, socket or device where the run keeps a file (``model.keras``,
``mined/<layer>.npz``, ...) would block a request thread forever on
``open``, so it is refused instead (a 400 naming it). `write_stays_inside`
is checked before the explorer writes into a source's folder.
"""

import os
import stat

from zfkeras.utils.errors import InputError
from zfkeras.explore import entry
from zfkeras.runs import RunFolder
from zfkeras.runs.layout import RunLayout

# The test images mined for a run: as the report's Fig. 2 (its default
# 10,000, seed 0), at most ~512 MB of raw pixels. ZFKERAS_EXPLORE_TEST_IMAGES
# lowers it (tests, slow machines).
TEST_IMAGES = 10000
TEST_IMAGES_ENV = "ZFKERAS_EXPLORE_TEST_IMAGES"
PIXEL_BUDGET = 512 << 20
SEED = 0
# The images whose average Fourier magnitude MaCo's visualisations keep
# (zfkeras.explore.visualization): a seeded draw of a run's training images.
SPECTRUM_IMAGES = 256


# Where a run or an entry keeps the files the explorer reads (its top level
# and these folders, checkpoints/ one level deeper); at most MAX_CHECKED entries.
_READ_FOLDERS = ("mined", "evolution", "checkpoints")
MAX_CHECKED = 4096


def check_regular_files(folder, subfolders=_READ_FOLDERS):
    """Refuses a folder holding something other than regular files and folders where files are read.

    Symbolic links are followed (as TensorBoard follows them); a broken
    one is left to the reader (a missing file). ``os.stat`` never blocks on
    a FIFO, unlike ``open``.

    Raises:
        InputError: a FIFO, socket or device file, named.
    """
    pending, checked = [(folder, 1)], 0
    pending += [(os.path.join(folder, name), 1 if name == "checkpoints" else 0) for name in subfolders]
    while pending and checked < MAX_CHECKED:
        path, deeper = pending.pop()
        try:
            entries = list(os.scandir(path))
        except OSError:
            continue
        for entry in entries:
            checked += 1
            try:
                mode = os.stat(entry.path).st_mode
            except OSError:
                continue
            if stat.S_ISDIR(mode):
                if deeper and path != folder:
                    pending.append((entry.path, 0))
            elif not stat.S_ISREG(mode):
                raise InputError(f"{os.path.relpath(entry.path, folder)!r} in {os.path.basename(folder)!r} is "
                                 "not a regular file (a FIFO, socket or device): the explorer does not read it")


def write_stays_inside(folder, target):
    """Whether writing ``target`` (atomically: a new file renamed onto it) stays inside ``folder`` as resolved."""
    root = os.path.realpath(folder)
    parent = os.path.realpath(os.path.dirname(os.fspath(target)))
    return os.path.commonpath([root, parent]) == root


def test_image_count(input_shape):
    """How many test images are mined for a model of ``input_shape``."""
    cap = TEST_IMAGES
    if os.environ.get(TEST_IMAGES_ENV, "").isdigit():
        cap = max(9, int(os.environ[TEST_IMAGES_ENV]))
    h, w, c = input_shape
    return max(9, min(cap, PIXEL_BUDGET // max(1, h * w * c)))


class RunSource:
    """A run folder ``zfkeras train`` wrote."""

    kind = "run"

    def __init__(self, run_id, path):
        self.id, self.run = run_id, RunFolder(path)
        self.path = self.run.path
        self.input_shape = tuple(self.run.input_shape)
        self.mining_params = {"split": "test", "max_images": test_image_count(self.input_shape), "seed": SEED}
        self.folder = self.run
        self.image_side = (int(self.input_shape[0]) if self.run.dataset == "fashion_mnist"
                           else int(self.run.config.get("image_size", self.input_shape[0])))

    @property
    def title(self):
        return f"{self.id} ({self.run.config.get('model', 'model')} on {self.run.dataset})"

    def load_model(self):
        return self.run.load_model(compile=False)

    @property
    def class_names(self):
        try:
            return list(self.run.class_names)
        except (InputError, OSError):
            return []

    def test_images(self):
        return self.run.load_split("test", max_examples=self.mining_params["max_images"], seed=SEED)

    def spectrum_images(self):
        """``(raw, params)``: `SPECTRUM_IMAGES` training images (a seeded draw); the test images
        where the training split cannot be read (its data moved away)."""
        params = {"split": "train", "max_images": SPECTRUM_IMAGES, "seed": SEED}
        try:
            raw, _ = self.run.load_split("train", max_examples=SPECTRUM_IMAGES, seed=SEED)
        except (InputError, OSError):
            raw, _ = self.test_images()
            params = dict(self.mining_params)
        return raw, dict(params, num_images=int(len(raw)))

    def preprocess(self, raw):
        return self.run.preprocess(raw)

    def read_image(self, path):
        return self.run.read_image(path)

    def evolution(self):
        try:
            return self.run.evolution()
        except InputError:
            return {}


class EntryFolder(RunFolder):
    """The files an entry shares with a run folder (``model.keras``,
    ``mined/``), for `zfkeras.runs.mined`; it has no training configuration."""

    def __init__(self, path):  # noqa: D107 - deliberately not RunFolder's: no config.json to read
        self.layout = RunLayout(path)
        self.path = self.layout.root
        self.config = {"dataset": "explore"}


class EntrySource:
    """A log-folder entry ``zfkeras explore`` prepared."""

    kind = "entry"

    def __init__(self, run_id, path):
        self.id, self.path = run_id, path
        self.meta = entry.read_entry(path)
        self.input_shape = tuple(int(d) for d in self.meta["input_shape"])
        self.mining_params = {"split": entry.IMAGES_FILE, "max_images": int(self.meta["num_images"]), "seed": SEED}
        self.folder = EntryFolder(path)
        self.image_side = int(self.input_shape[0])

    @property
    def title(self):
        return f"{self.id} ({os.path.basename(self.meta['sources'].get('model', 'model'))}, explore entry)"

    def load_model(self):
        from zfkeras.keras_objects.saving import load_model

        return load_model(os.path.join(self.path, entry.MODEL_FILE), compile=False)

    @property
    def class_names(self):
        return list(self.meta.get("class_names") or [])

    def test_images(self):
        import numpy as np

        with np.load(os.path.join(self.path, entry.IMAGES_FILE)) as f:
            return f["images"], None

    def spectrum_images(self):
        """``(raw, params)``: the entry's images (its dataset)."""
        raw, _ = self.test_images()
        return raw, dict(self.mining_params, num_images=int(len(raw)))

    def preprocess(self, raw):
        return entry.preprocess(raw, self.meta["preprocess"])

    def read_image(self, path):
        from zfkeras.runs.sources import read_image_file

        height, _, channels = self.input_shape
        return read_image_file(path, height, height, channels)

    def evolution(self):
        return {}


def open_source(kind, run_id, path):
    """`RunSource` or `EntrySource` for a discovered source (its files checked first: `check_regular_files`)."""
    check_regular_files(path)
    return (EntrySource if kind == "entry" else RunSource)(run_id, path)

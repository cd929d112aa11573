"""Arrays -> PNG data URIs, as the explorer page shows them.

Projections are drawn with `zfkeras.utils.display.projection_to_image` (the one
normalisation of every projection zfkeras shows); raw images as they are;
activation maps from zero (black) to their maximum (white); feature visualisations
faded by their transparency as RGBA (`faded_uri`); occlusion
maps through a matplotlib colour map (p(class): 0 blue to 1 red, as the
paper's Fig. 7) or one colour per label; explanation maps by `map_uri`. numpy, Pillow, matplotlib.
"""

import base64
import io

import numpy as np

from zfkeras.utils.display import projection_to_image, to_rgb


def png_uri(image):
    """``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)`` (RGBA) float in [0, 1] or uint8 -> ``data:image/png;base64,...``."""
    from PIL import Image

    array = np.asarray(image)
    if array.dtype != np.uint8:
        array = np.clip(np.round(np.asarray(array, np.float32) * 255.0), 0, 255).astype(np.uint8)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def raw_uri(raw):
    """A raw uint8 image (grey or RGB)."""
    return png_uri(to_rgb(np.asarray(raw, np.float32) / 255.0))


def faded_uri(raw, alpha):
    """A raw uint8 image (grey or RGB) with ``alpha`` ``(H, W)`` in [0, 1] as its opacity (an RGBA PNG):
    a feature visualisation faded by MaCo's transparency."""
    rgb = to_rgb(np.asarray(raw, np.float32) / 255.0)
    return png_uri(np.concatenate([rgb, np.clip(np.asarray(alpha, np.float32), 0.0, 1.0)[..., None]], axis=-1))


def projection_uri(projection):
    """A deconvnet projection (any sign), `projection_to_image`'s normalisation."""
    return png_uri(projection_to_image(projection))


def activation_uri(activation, peak=None):
    """A non-negative map ``(h, w)``: 0 black, ``peak`` (default its maximum) white."""
    activation = np.maximum(np.asarray(activation, np.float32), 0.0)
    top = float(activation.max()) if peak is None else float(peak)
    return png_uri(activation / top if top > 0 and np.isfinite(top) else np.zeros_like(activation))


def colormap_uri(values, low, high, name="jet"):
    """``(h, w)`` values through a matplotlib colour map over ``[low, high]``."""
    import matplotlib

    scaled = (np.asarray(values, np.float32) - low) / max(high - low, 1e-12)
    return png_uri(matplotlib.colormaps[name](np.clip(scaled, 0.0, 1.0))[..., :3])


def label_colors(count):
    """``count`` distinct RGB colours (tab20, then repeating), as ``#rrggbb``."""
    import matplotlib

    cmap = matplotlib.colormaps["tab20"]
    return [matplotlib.colors.to_hex(cmap(i % 20)) for i in range(count)]


def label_map_uri(labels, palette):
    """``(h, w)`` integer labels, each drawn in ``palette[label]`` (``#rrggbb``)."""
    import matplotlib

    rgb = np.asarray([matplotlib.colors.to_rgb(c) for c in palette], np.float32)
    return png_uri(rgb[np.asarray(labels, np.int64)])


def map_uri(values, signed):
    """An explanation's ``(h, w)`` map: signed maps on a diverging scale
    symmetric about 0 (``bwr``: blue negative, white 0, red positive), the
    others from 0 (dark blue) to their maximum (dark red, ``jet``)."""
    values = np.asarray(values, np.float32)
    if signed:
        top = float(np.abs(values).max())
        top = top if top > 0 and np.isfinite(top) else 1.0
        return colormap_uri(values, -top, top, "bwr")
    top = float(values.max())
    return colormap_uri(values, 0.0, top if top > 0 and np.isfinite(top) else 1.0, "jet")

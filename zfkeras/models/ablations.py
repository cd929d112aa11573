"""The paper's Table 2 ablations, as changes to a model builder's defaults.

Plain data (no TensorFlow import), so that command-line validation is
instant. Widths are relative to the builder's own defaults, so that a
variant means the same change for `zfnet` (where it gives the paper's
absolute widths) and for the narrower `zfnet_small`:

* ``fc_units_scale``: fc6/fc7 width times this (ZFNet 4096 -> 2048 / 8192);
* ``conv_filters_scale``: conv1..conv5 maps times these (ZFNet conv3-5
  384, 384, 256 -> 512, 1024, 512), rounded to the nearest integer;
* ``remove``: layers left out.
"""

ABLATIONS = {
    "zf": {},
    "remove_conv3_conv4": {"remove": ("conv3", "conv4")},
    "remove_fc7": {"remove": ("fc7",)},
    "remove_fc6_fc7": {"remove": ("fc6", "fc7")},
    "remove_conv3_conv4_fc6_fc7": {"remove": ("conv3", "conv4", "fc6", "fc7")},
    "fc_2048": {"fc_units_scale": 0.5},
    "fc_8192": {"fc_units_scale": 2.0},
    "conv345_512_1024_512": {"conv_filters_scale": (1.0, 1.0, 512 / 384, 1024 / 384, 512 / 256)},
}

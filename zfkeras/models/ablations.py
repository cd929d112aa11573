"""The paper's Table 2 ablations, as keyword arguments of the model builders.

Plain data (no TensorFlow import), so that command-line validation is instant.
"""

ABLATIONS = {
    "zf": {},
    "remove_conv3_conv4": {"remove": ("conv3", "conv4")},
    "remove_fc7": {"remove": ("fc7",)},
    "remove_fc6_fc7": {"remove": ("fc6", "fc7")},
    "remove_conv3_conv4_fc6_fc7": {"remove": ("conv3", "conv4", "fc6", "fc7")},
    "fc_2048": {"fc_units": 2048},
    "fc_8192": {"fc_units": 8192},
    "conv345_512_1024_512": {"conv_filters": (96, 256, 512, 1024, 512)},
}

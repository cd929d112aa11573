"""The Keras objects zfkeras registers or reads: the feature-scale clipping
constraint, the smoothed loss, loading saved models (``.keras`` and legacy
``.h5`` files, checked by `model_files`, Keras 2 architectures upgraded by
`keras2_configs`), and the float32 copy
of a mixed-precision model. (The layers and model builders have their own
packages, `zfkeras.layers` and `zfkeras.models`.)"""

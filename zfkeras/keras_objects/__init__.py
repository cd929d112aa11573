"""The Keras objects zfkeras registers or reads: the feature-scale clipping
constraint, the smoothed loss, loading saved models, and the float32 copy
of a mixed-precision model. (The layers and model builders have their own
packages, `zfkeras.layers` and `zfkeras.models`.)"""

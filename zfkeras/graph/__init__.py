"""The one model graph every zfkeras tool reads.

* `zfkeras.graph.window`: `Window`, the description of a layer's spatial
  window (kernel, strides, padding before/after, dilation), and
  `axis_window`, the only SAME/VALID arithmetic (plain Python).
* `zfkeras.graph.walk`: `walk(model)` turns a Keras model into a
  `ModelGraph` of steps (layer, qualified name, input and output tensor
  ids, static shape, window), walking into nested models and recording the
  classifier head.
* `zfkeras.graph.output`: the one output policy (does a model end in
  probabilities or logits?).
* `zfkeras.graph.positions`: `strongest_positions`, where a unit without a
  position is read.

The deconvnet (`zfkeras.deconv`), its receptive fields and the occlusion
engine (`zfkeras.methods.occlusion`) all read this graph. Importing the
package imports nothing (the submodules are imported by name), so that
`zfkeras.layers` can use the window arithmetic without a cycle.
"""

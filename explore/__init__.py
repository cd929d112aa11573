"""The live deconvnet explorer: a TensorBoard plugin and ``zfkeras explore``.

``tensorboard --logdir LOGDIR`` shows a *zfkeras* tab whenever LOGDIR holds
a run folder ``zfkeras train`` wrote or an entry ``zfkeras explore``
prepared (`zfkeras.explore.entry`). The tab asks the server for one unit's
top 9, optimised image and evolution, every class's optimised image, or for an image's classes, strongest maps,
projections and occlusion maps, computed on demand with the run's own
model.

Modules: `discovery` (which folders under the log folder are runs, and
the only way a request names one), `entry` (the ``zfkeras explore``
entry format), `sources` (a run or an entry, read the same way),
`session` (a loaded model and what the routes compute with it),
`jobs` (background jobs: top-k mining, cached in the run folder),
`visualization` (feature visualisation of a layer's maps and of the
classes, a background job stored in the run folder),
`pictures` (PNG data URIs), `uploads` (checked image uploads, decoded
no larger than the model needs), `limits` (the gate bounding concurrent
work, the sessions' LRU cache, memory trimming), `routes`
and `plugin` (the TensorBoard plugin), `cli` (``zfkeras explore``).
Nothing here is imported at TensorBoard start-up but `plugin`, which
imports no TensorFlow.
"""

"""Internal helpers shared by the core and its four packages: the input
adapter, argument validation, the error classes, progress bars, atomic
writes, display scaling and lazy exports. Plain Python at import: no
TensorFlow until a helper that needs it runs."""

"""Layer-wise relevance propagation (Bach et al. 2015), methods of `zfkeras.explain`.

``rules`` (the rules of a linear map), ``layers`` (the registry of how
relevance crosses each layer type), ``engine`` (`LRP`: the walk,
canonisation, composites) and ``methods`` (the registered methods, by
importing it). Imports TensorFlow.
"""

"""How the experiments measure: the fold protocol, the target datasets, the filter measures."""

"""The measurements: how faithful an explanation is (`faithfulness`), how
invariant a representation is (`invariance`), what changes together
(`correspondence`), and how accurate a model is (`evaluation`)."""

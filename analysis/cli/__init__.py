"""The analysis verbs of the ``zfkeras`` command: report, occlude, probe, transfer, ablate."""

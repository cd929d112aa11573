"""The report's sections: one module per figure or table of the paper, named after it."""

"""The methods: what a model sees in an input, by one contract.

One module per public entry point, named after it (`grad_cam`,
`top_activations`, `features`, `occlusion`), so that each can be found by
its name. Importing this package imports nothing heavy; the functions are
re-exported lazily at the top level (`zfkeras.grad_cam`, ...).
"""

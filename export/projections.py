"""Which ``project_*`` signatures an export serves, from the method registry.

Plain Python (no TensorFlow), so the export record (`zfkeras.export.record`)
can name them without loading TensorFlow.
"""

from zfkeras.methods.registry import registered_methods

__all__ = ["project_signatures"]


def project_signatures():
    """The ``project`` signatures: signature name -> `Deconvnet` backward rule.

    One per deterministic method of the registry
    (`zfkeras.methods.registry`) that runs a backward rule
    (``Method.backward_rule``): ``project`` for the deconvnet,
    ``project_<method>`` for the others (``project_guided_backprop``,
    ``project_gradient``, and any such method registered later). TF Serving
    and other SavedModel clients must feed every input of a signature, so a
    ``method`` input would break every existing ``project`` request;
    separate signatures keep ``project`` (the deconvnet) as it was.

    Returns:
        dict, in registration order.
    """
    return {("project" if m.name == "deconvnet" else f"project_{m.name}"): m.backward_rule
            for m in registered_methods(deterministic=True) if m.backward_rule}

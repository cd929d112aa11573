"""Which examples a run trains, validates (anneals) and tests on.

The test metrics must come from data the run never trained or tuned on.
`plan_splits` decides, from the splits a data source has, where each of the
three comes from: the source's own ``test`` split when it has one, else its
``val``/``validation`` split (then the validation the annealer watches is
held out of the training split), else both held out of the training split.
The trainer saves the plan as ``splits.json``; `RunFolder` reads it back,
so the analysis tools load the same examples.

Held-out examples of an indexable source (arrays, file lists) are drawn by
one seeded permutation: validation first, then test, training the rest. A
streamed source (TFDS) gives its first examples instead (validation, then
test), since permuting a stream would mean reading all of it.

Needs only numpy.
"""

import numpy as np
from zfkeras.utils.errors import InputError

VALIDATION_NAMES = ("val", "validation")


def plan_splits(available, validation_size, seed):
    """Where the train, validation and test examples of a run come from.

    Args:
        available: split names the source has (e.g. ``["train", "test"]``,
            folder names under an image root, TFDS split names); must hold
            ``"train"``.
        validation_size: examples per held-out split.
        seed: seed of the held-out draw.

    Returns:
        JSON-friendly dict: ``train``, ``validation``, ``test`` (a split
        name, or None when held out of ``train``), ``held_out`` (examples
        per held-out split), ``seed``, and ``description`` (one sentence).
    """
    available = list(available)
    if "train" not in available:
        raise InputError(f"the data has no 'train' split (it has {available}); a run needs one to train on")
    named_validation = next((name for name in VALIDATION_NAMES if name in available), None)
    test = "test" if "test" in available else named_validation
    validation = named_validation if named_validation not in (None, test) else None
    held = [name for name, source in (("validation", validation), ("test", test)) if source is None]
    if held and validation_size < 1:
        raise InputError(
            f"the data has no separate {' or '.join(held)} split, so it is held out of 'train', "
            f"but validation_size is {validation_size}; pass --validation-size N (N >= 1)"
        )
    parts = [f"test: the {test!r} split" if test else "test: held out of 'train'",
             f"validation: the {validation!r} split" if validation else "validation: held out of 'train'"]
    return {
        "train": "train",
        "validation": validation,
        "test": test,
        "held_out": int(validation_size) if held else 0,
        "seed": int(seed),
        "description": "; ".join(parts) + " (the test examples are never trained or annealed on)",
    }


def held_out_indices(num_examples, plan, max_train=0):
    """Indices of each split within an indexable ``train`` source.

    Args:
        num_examples: examples in the source's ``train`` split.
        plan: a dict from `plan_splits`.
        max_train: keep at most this many training examples (0: all).

    Returns:
        dict ``{"train": idx, "validation": idx or None, "test": idx or
        None}`` of sorted int64 arrays; None for a split not held out.
    """
    count = plan["held_out"]
    held = [name for name in ("validation", "test") if plan[name] is None]
    if count * len(held) >= num_examples:
        raise InputError(
            f"holding out {count} examples for each of {held} leaves no training examples out of "
            f"{num_examples}; pass a smaller --validation-size"
        )
    order = np.random.RandomState(plan["seed"]).permutation(num_examples)
    found = {"validation": None, "test": None}
    for k, name in enumerate(held):
        found[name] = np.sort(order[k * count:(k + 1) * count])
    train = order[len(held) * count:]
    if max_train:
        train = train[:max_train]
    found["train"] = np.sort(train)
    return found


def stream_ranges(plan, max_train=0):
    """``(skip, take)`` of each split within a streamed ``train`` source.

    Args:
        plan: a dict from `plan_splits`.
        max_train: keep at most this many training examples (0: all).

    Returns:
        dict name -> ``(skip, take)`` (take -1: to the end), or None for a
        split that is not held out of ``train``.
    """
    count = plan["held_out"]
    found, start = {"validation": None, "test": None}, 0
    for name in ("validation", "test"):
        if plan[name] is None:
            found[name] = (start, count)
            start += count
    found["train"] = (start, max_train or -1)
    return found

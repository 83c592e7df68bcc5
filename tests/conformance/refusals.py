"""Bad serving requests, derived from what a model declares, and the message each must be refused with.

For every input of every signature (:class:`~tfvae.models.contract.ServingInput`, read from the
model's declaration, never from its class) :func:`bad_requests` makes requests that a server must
refuse: one extra trailing dimension (the rank check that constant folding used to remove), NaN,
a value outside the input's bounds (the likelihood's support, or the magnitude limits), a code or
label outside ``[0, depth)``; :func:`too_many_rows`: more rows than the export takes. ``clean_load.py`` sends them
through a TF1 session (``Session::Run`` without Python's feed checks, as TF Serving does) and
records the messages; the conformance test compares them with :data:`REFUSALS`, and the docs test
checks that docs/export.md lists each of them.
"""

from __future__ import annotations

import numpy as np

from tfvae.export.signatures import MAX_REQUEST_ROWS

#: fault -> the words of its message, as docs/export.md lists them ({name}: the input, {depth}: its range)
REFUSALS = {
    "rank": "{name} must have shape (batch",
    "label rank": "{name} must have shape (batch,) with one label per row of the batch",
    "nan": "{name} contains NaN or infinite values",
    "bounds": "{name} must lie in [",
    "codes": "{name} must hold code indices in [0, {depth})",
    "label": "each in [0, {depth})",
    "rows": "{name} holds too many rows: a request takes at most {rows}",
}


def _valid(spec, rows: int = 2) -> np.ndarray:
    return spec.example(rows)


def _outside(spec) -> float:
    """A finite value outside the input's bounds: below a [0, 1] support, above a magnitude limit."""
    low, high = spec.bounds
    return low - 5.0 if low == 0.0 else high * 10.0


def bad_requests(signatures) -> list[dict]:
    """``[{"case", "signature", "feeds": {input: array}, "fault", "input", "depth"}]`` for the declared ``signatures``."""
    cases = []
    for sig_name, signature in sorted(signatures.items()):
        valid = {name: _valid(spec) for name, spec in signature.inputs.items()}
        for name, spec in signature.inputs.items():
            def case(fault, value):
                cases.append({"case": f"{sig_name}/{name}/{fault}", "signature": sig_name, "input": name,
                              "fault": fault, "depth": spec.depth, "feeds": {**valid, name: value}})

            good = valid[name]
            case("label rank" if spec.kind == "label" else "rank", good[..., np.newaxis])
            if spec.kind in ("data", "sequence", "latent"):
                case("nan", np.where(np.arange(good.size).reshape(good.shape) == 1, np.nan, good).astype(good.dtype))
                if spec.bounds is not None:
                    case("bounds", np.full_like(good, _outside(spec)))
            elif spec.kind == "codes":
                case("codes", np.full_like(good, spec.depth))
            elif spec.kind == "label":
                case("label", np.full_like(good, spec.depth))
    return cases


def too_many_rows(signatures, max_rows: int) -> list[dict]:
    """One request per signature with ``max_rows + 1`` rows (for an export with ``max_request_rows=max_rows``)."""
    cases = []
    for sig_name, signature in sorted(signatures.items()):
        first = next(iter(signature.inputs))
        cases.append({"case": f"{sig_name}/{first}/rows", "signature": sig_name, "input": first, "fault": "rows",
                      "depth": None, "rows": max_rows,
                      "feeds": {name: _valid(spec, max_rows + 1) for name, spec in signature.inputs.items()}})
    return cases


def expected_message(case: dict) -> str:
    """The words the refusal of ``case`` must hold."""
    return REFUSALS[case["fault"]].format(name=case["input"], depth=case["depth"],
                                          rows=case.get("rows", MAX_REQUEST_ROWS))

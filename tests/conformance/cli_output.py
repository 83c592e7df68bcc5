"""Parse ``saved_model_cli show --all`` into ``{signature: (inputs, outputs)}``."""

from __future__ import annotations

import re

_SIGNATURE = re.compile(r"^signature_def\['(?P<name>[^']+)'\]:")
_TENSOR = re.compile(r"^\s*(?P<kind>inputs|outputs)\['(?P<name>[^']+)'\] tensor_info:")
_DTYPE = re.compile(r"^\s*dtype: (?P<dtype>\w+)")
_SHAPE = re.compile(r"^\s*shape: \((?P<dims>[-0-9, ]*)\)")


def parse_show_all(text: str) -> dict[str, tuple[dict, dict]]:
    """Signatures (``__saved_model_init_op`` left out) with ``name -> (dtype, shape)``.

    Only the SignatureDef part is read (the concrete-function listing after it
    is ignored).
    """
    text = text.split("Concrete Functions:")[0]
    signatures: dict[str, tuple[dict, dict]] = {}
    current = tensor = None
    for line in text.splitlines():
        if m := _SIGNATURE.match(line):
            current = signatures.setdefault(m["name"], ({}, {}))
        elif (m := _TENSOR.match(line)) and current is not None:
            tensor = (current[0] if m["kind"] == "inputs" else current[1], m["name"])
        elif (m := _DTYPE.match(line)) and tensor is not None:
            tensor[0][tensor[1]] = (m["dtype"], None)
        elif (m := _SHAPE.match(line)) and tensor is not None:
            dims = tuple(int(d) for d in m["dims"].replace(" ", "").split(",") if d)
            tensor[0][tensor[1]] = (tensor[0][tensor[1]][0], dims)
            tensor = None
    signatures.pop("__saved_model_init_op", None)
    return signatures

"""Export: SavedModel for TF Serving (signatures, versions, warmup) and ``.keras`` files.

```python
from tfvae.export import export_saved_model
export_saved_model(model, "saved_models/vae")      # -> saved_models/vae/<next version>
export_saved_model(vqvae, "saved_models/vqvae", prior=pixelcnn)  # + a sample signature
export_saved_model(tdvae, "saved_models/tdvae", options={"horizon": 8})  # rollout of 8 frames
```
"""

from tfvae.export.errors import ExportError
from tfvae.export.keras_file import load_keras, save_keras
from tfvae.export.layout import existing_versions, next_version, write_version
from tfvae.export.saved_model import (
    ServingModule,
    export_saved_model,
    signature_table,
    write_saved_model,
)
from tfvae.export.signatures import Signature, serving_signatures, traced
from tfvae.export.warmup import (
    WARMUP_DIR,
    WARMUP_FILE,
    read_warmup_file,
    warmup_records,
    write_warmup_file,
)

__all__ = [
    "WARMUP_DIR",
    "WARMUP_FILE",
    "ExportError",
    "ServingModule",
    "Signature",
    "existing_versions",
    "export_saved_model",
    "load_keras",
    "next_version",
    "read_warmup_file",
    "save_keras",
    "serving_signatures",
    "signature_table",
    "traced",
    "warmup_records",
    "write_saved_model",
    "write_version",
    "write_warmup_file",
]

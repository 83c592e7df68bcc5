"""The registries declare tfvae's built-in names without importing TensorFlow, and the declarations are true."""

import subprocess
import sys

import tfvae.applications  # noqa: F401  (registers ratings_ae)
import tfvae.distributions  # noqa: F401
import tfvae.models  # noqa: F401
from tfvae.registry import LIKELIHOODS, MODELS


def test_every_builtin_is_registered_by_its_declared_module_and_every_tfvae_entry_is_declared():
    for registry in (MODELS, LIKELIHOODS):
        declared = registry.builtin_modules()
        for name, module in declared.items():
            assert registry.get(name).__module__ == module, name
        for name in registry.names():
            if registry.get(name).__module__.startswith("tfvae."):
                assert name in declared, f"{registry.kind} {name!r} is registered by tfvae but not declared"


def test_every_registered_model_class_is_exported_by_tfvae_models_and_lazily_by_tfvae():
    import tfvae

    for name in MODELS.builtin_modules():
        cls = MODELS.get(name)
        assert getattr(tfvae.models, cls.__name__, None) is cls, f"{cls.__name__} is not in tfvae/models/__init__.py"
        assert cls.__name__ in tfvae.__all__ and getattr(tfvae, cls.__name__) is cls, (
            f"{cls.__name__} is not in tfvae/__init__.py's _MODEL_CLASSES"
        )


def test_config_validation_and_names_do_not_import_tensorflow():
    code = (
        "import sys; from tfvae.config import default_config; from tfvae.registry import MODELS\n"
        "default_config('vae', ['train.epochs=3']); assert 'vqvae2' in MODELS\n"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]

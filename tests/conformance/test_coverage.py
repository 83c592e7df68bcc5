"""The conformance matrix is the gate: every registered model has a family (or a stated reason not to).

Forgetting to add a new model to ``families.py`` fails here, as Sonnet's
conformance registry fails for an unregistered module.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conformance.families import FAMILIES, REPRESENTATIVES

import tfvae.applications  # noqa: F401  (registers the application models; importing it imports tfvae)
from tfvae.registry import MODELS

#: registered models that have no family, each with its reason. Keep it empty:
#: an entry here means a model the gate does not check.
ALLOWED_WITHOUT_FAMILY: dict[str, str] = {}

TRAINING = Path(__file__).resolve().parents[2] / "training"


def test_every_registered_model_has_a_family():
    covered = {family.model for family in FAMILIES.values()}
    missing = sorted(set(MODELS.names()) - covered - set(ALLOWED_WITHOUT_FAMILY))
    assert not missing, f"registered models without a conformance family in tests/conformance/families.py: {missing}"


def test_the_allow_list_names_only_registered_models_without_a_family():
    covered = {family.model for family in FAMILIES.values()}
    for name, reason in ALLOWED_WITHOUT_FAMILY.items():
        assert name in MODELS, f"{name!r} is allow-listed but not registered: remove it"
        assert name not in covered, f"{name!r} has a family now: remove it from ALLOWED_WITHOUT_FAMILY"
        assert reason.strip(), f"{name!r}: say why it has no family"


def test_every_family_names_a_registered_model():
    unknown = {name: family.model for name, family in FAMILIES.items() if family.model not in MODELS}
    assert not unknown, f"families naming unregistered models: {unknown}"


def test_every_kind_has_one_representative_of_that_kind():
    """The fast pass runs the whole matrix on the representatives: a family of a kind without one is never
    fully checked there."""
    kinds = {family.kind for family in FAMILIES.values()}
    assert kinds == set(REPRESENTATIVES), f"kinds without a representative: {sorted(kinds - set(REPRESENTATIVES))}"
    for kind, name in REPRESENTATIVES.items():
        assert name in FAMILIES and FAMILIES[name].kind == kind, (kind, name)


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_the_family_builds_the_model_it_names(name):
    family = FAMILIES[name]
    model = family.build()
    assert type(model) is MODELS.get(family.model), (name, type(model), family.model)


def test_every_family_config_is_a_shipped_config_of_the_same_model():
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    for name, family in FAMILIES.items():
        if family.config is None:
            continue
        path = TRAINING / f"{family.config}.toml"
        if not path.is_file():  # the CLI door skips it, saying so; the name must still be the family's model
            continue
        declared = tomllib.loads(path.read_text())["model"]["name"]
        assert declared == family.model, (name, path.name, declared)


@pytest.mark.parametrize("name", sorted(n for n, f in FAMILIES.items() if f.same_model_as is not None))
def test_a_family_skipped_by_the_model_checks_builds_the_same_model_as_the_one_checked(name):
    """``same_model_as`` must not hide a model the generic checks never see."""
    family, twin = FAMILIES[name], FAMILIES[FAMILIES[name].same_model_as]
    assert twin.same_model_as is None and twin.model == family.model

    def settings(config):  # the config without names and seeds, at every depth
        if isinstance(config, dict):
            return {k: settings(v) for k, v in config.items() if k not in ("name", "seed")}
        return [settings(v) for v in config] if isinstance(config, list) else config

    ours, theirs = (json.loads(json.dumps(f.build().get_config())) for f in (family, twin))
    assert settings(ours) == settings(theirs)


def test_every_family_that_samples_takes_seed_and_condition_by_keyword():
    """One ``sample(num_samples, *, seed, condition, ...)`` across families: a caller never asks which."""
    import inspect

    samplers = {name: MODELS.get(name).sample for name in MODELS.names() if callable(getattr(MODELS.get(name), "sample",
                                                                                            None))}
    assert {"vae", "cvae", "vqvae", "vqvae2", "factor_vae"} <= set(samplers)
    for name, sample in samplers.items():
        parameters = inspect.signature(sample).parameters
        assert list(parameters)[:2] == ["self", "num_samples"], name
        for keyword in ("seed", "condition"):
            assert keyword in parameters, f"{name}.sample takes no {keyword}="
            assert parameters[keyword].kind is inspect.Parameter.KEYWORD_ONLY, f"{name}.sample: {keyword} by position"

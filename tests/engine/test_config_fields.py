"""The presentation table of the config fields: complete, consistent with the config, and
deciding which fields apply."""

from __future__ import annotations

from engine.config import ExperimentConfig, field_spec, field_specs
from engine.config_fields import FIELDS, applies, unlisted_fields


def test_every_config_field_has_a_human_label():
    assert unlisted_fields() == []
    assert set(FIELDS) == {s.key for s in field_specs()}  # no entry for a field that is gone
    for key, shown in FIELDS.items():
        assert shown.label and shown.label != key.split(".")[-1], key  # not the snake_case name
        assert "_" not in shown.label, key


def test_labels_are_unique_within_a_section():
    seen: dict[tuple[str, str], str] = {}
    for spec in field_specs():
        k = (spec.section, FIELDS[spec.key].label)
        assert k not in seen, f"{spec.key} and {seen.get(k)} share a label"
        seen[k] = spec.key


def test_rules_name_real_keys_and_allowed_values():
    for key, shown in FIELDS.items():
        rule = shown.applies
        if rule is None:
            continue
        for dep, values in rule.conditions:
            spec = field_spec(dep)
            for v in values:
                if spec.kind == "choice":
                    assert v in spec.choices, f"{key}: {dep} has no choice {v!r}"
                elif spec.kind == "bool":
                    assert isinstance(v, bool), key
        rule.holds(ExperimentConfig())  # a test rule runs on the default config


def _shown(config: ExperimentConfig, section: str) -> set[str]:
    return {s.key for s in field_specs() if s.section == section and applies(s.key, config)}


def test_only_the_chosen_optimizers_fields_apply():
    adam = _shown(ExperimentConfig(), "optim")
    assert adam == {
        "optim.name",
        "optim.lr",
        "optim.betas",
        "optim.eps",
        "optim.weight_decay",
        "optim.amsgrad",
    }
    sgd = _shown(ExperimentConfig().with_updates({"optim.name": "sgd"}), "optim")
    assert sgd == {"optim.name", "optim.lr", "optim.weight_decay"}
    rms = _shown(ExperimentConfig().with_updates({"optim.name": "rmsprop"}), "optim")
    assert {"optim.alpha", "optim.centered", "optim.rmsprop_momentum"} <= rms and "optim.betas" not in rms


def test_only_the_chosen_schedules_and_data_sets_fields_apply():
    assert _shown(ExperimentConfig(), "schedule") == {"schedule.name"}
    step = ExperimentConfig().with_updates({"schedule.name": "step"})
    assert _shown(step, "schedule") == {"schedule.name", "schedule.step_size", "schedule.gamma"}
    digits = _shown(ExperimentConfig().with_updates({"data.name": "digits"}), "data")
    assert not digits & {"data.noise", "data.n_samples", "data.n_classes", "data.path"}
    assert "data.label_column" in _shown(ExperimentConfig().with_updates({"data.name": "csv"}), "data")


def test_batch_norm_fields_apply_only_with_batch_norm():
    off = ExperimentConfig()
    assert not applies("model.bn_momentum", off) and not applies("model.bn_eps", off)
    on = off.with_updates({"model.batch_norm": "before"})
    assert applies("model.bn_momentum", on) and applies("model.bn_eps", on)
    per_layer = off.with_updates({"model.batch_norm_layers": ["off", "after"]})
    assert applies("model.bn_momentum", per_layer)

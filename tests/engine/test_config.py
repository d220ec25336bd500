"""The config tree: defaults, ranges, dotted keys, JSON round trip, messages naming fields."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.config import ConfigError, ExperimentConfig, field_spec, field_specs, parse_set_args

REQUIRED_KEYS = [
    "data.name",
    "data.noise",
    "data.n_samples",
    "model.hidden",
    "model.activation",
    "model.init",
    "model.init_std",
    "optim.name",
    "optim.lr",
    "optim.momentum",
    "optim.betas",
    "optim.eps",
    "optim.weight_decay",
    "schedule.name",
    "train.epochs",
    "train.batch_size",
    "train.val_fraction",
    "seed",
    "device",
]


def test_required_dotted_keys_exist_with_help_and_range():
    keys = {s.key for s in field_specs()}
    for k in REQUIRED_KEYS:
        assert k in keys, k
    for s in field_specs():
        assert s.help, f"{s.key} has no help text"
        if s.kind in ("int", "float"):
            assert s.minimum is not None and s.maximum is not None, f"{s.key} has no range"


def test_choices_match_the_issue():
    assert set(field_spec("model.activation").choices) == {"sigmoid", "tanh", "relu", "leaky_relu", "prelu"}
    assert set(field_spec("model.init").choices) >= {
        "zeros",
        "constant",
        "normal",
        "uniform",
        "xavier_uniform",
        "xavier_normal",
        "kaiming",
    }
    assert set(field_spec("optim.name").choices) == {
        "sgd",
        "momentum",
        "nesterov",
        "adagrad",
        "rmsprop",
        "adam",
        "adamw",
    }
    assert set(field_spec("device").choices) == {"auto", "cpu", "cuda"}


def test_out_of_range_names_field_and_range():
    with pytest.raises(ConfigError) as e:
        ExperimentConfig().with_updates({"optim.lr": 50.0})
    msg = str(e.value)
    assert "optim.lr" in msg and "(0, 10]" in msg


def test_unknown_key_is_named():
    with pytest.raises(ConfigError, match="unknown config key 'optim.learning_rate'"):
        parse_set_args(["optim.learning_rate=0.1"])


def test_bad_value_text_is_named():
    with pytest.raises(ConfigError, match="train.epochs: cannot read 'ten'"):
        parse_set_args(["train.epochs=ten"])


def test_set_args_parse_lists_and_pairs():
    d = parse_set_args(["model.hidden=64,32", "optim.betas=0.8,0.99", "optim.amsgrad=true"])
    cfg = ExperimentConfig().with_updates(d)
    assert cfg.model.hidden == [64, 32]
    assert cfg.optim.betas == (0.8, 0.99)
    assert cfg.optim.amsgrad is True


def test_hidden_width_out_of_range():
    with pytest.raises(ConfigError, match="model.hidden"):
        ExperimentConfig().with_updates({"model.hidden": [0, 3]})


def test_malformed_json_message():
    with pytest.raises(ConfigError, match="malformed JSON"):
        ExperimentConfig.from_json("{ not json")


def test_unknown_json_field_is_named():
    data = json.loads(ExperimentConfig().to_json())
    data["optim"]["lrr"] = 1
    with pytest.raises(ConfigError, match="optim.lrr: unknown config key"):
        ExperimentConfig.from_json(json.dumps(data))


@settings(max_examples=60, deadline=None)
@given(
    lr=st.floats(min_value=1e-9, max_value=10.0, allow_nan=False),
    mom=st.floats(0.0, 0.999),
    hidden=st.lists(st.integers(1, 4096), max_size=5),
    seed=st.integers(0, 2**31 - 1),
    opt=st.sampled_from(["sgd", "momentum", "adam", "rmsprop"]),
    b1=st.floats(0.0, 0.999),
    data=st.data(),
)
def test_json_round_trip_is_exact(lr, mom, hidden, seed, opt, b1, data):
    n = len(hidden)
    drops = data.draw(st.one_of(st.just([]), st.lists(st.floats(0.0, 1.0, exclude_max=True), min_size=n, max_size=n)))
    bns = data.draw(
        st.one_of(st.just([]), st.lists(st.sampled_from(["off", "before", "after"]), min_size=n, max_size=n))
    )
    cfg = ExperimentConfig().with_updates(
        {
            "optim.lr": lr,
            "optim.momentum": mom,
            "model.hidden": hidden,
            "seed": seed,
            "optim.name": opt,
            "optim.betas": [b1, 0.999],
            "model.dropout_layers": drops,
            "model.batch_norm_layers": bns,
        }
    )
    again = ExperimentConfig.from_json(cfg.to_json())
    assert again == cfg
    assert again.optim.lr == lr  # bit-exact float
    assert again.model.dropout_layers == drops  # bit-exact floats, in order
    assert again.model.batch_norm_layers == bns


@settings(max_examples=60, deadline=None)
@given(
    drops=st.lists(st.floats(0.0, 1.0, exclude_max=True), min_size=1, max_size=6),
    bns=st.lists(st.sampled_from(["off", "before", "after"]), min_size=1, max_size=6),
)
def test_list_fields_round_trip_through_the_set_syntax(drops, bns):
    """What the panel and `--set` write (comma-separated) reads back as the same list."""
    text_d = ",".join(repr(v) for v in drops)
    text_b = ", ".join(bns)
    parsed = parse_set_args([f"model.dropout_layers={text_d}", f"model.batch_norm_layers={text_b}"])
    assert parsed == {"model.dropout_layers": drops, "model.batch_norm_layers": bns}


@pytest.mark.parametrize(
    "pair",
    [
        "seed=٣",  # Arabic-Indic digit: int() reads it as 3
        "seed=１",  # full-width digit
        "train.epochs=1_0",  # int() reads it as 10
        "optim.lr=1_0e-3",
        "model.hidden=1,,2",
        "model.hidden=,",
        "model.hidden=4,",
        "model.dropout_layers=0.5,,0",
        "model.batch_norm_layers=off,,before",
        "optim.betas=0.9,,0.99",
        "schedule.milestones=[]]",
    ],
)
def test_one_parsing_rule_refuses_what_int_and_float_would_read(pair):
    key = pair.split("=")[0]
    with pytest.raises(ConfigError, match=f"^{key}: "):
        parse_set_args([pair])


def test_an_empty_value_is_an_empty_list_and_brackets_are_optional():
    assert parse_set_args(["model.hidden="]) == {"model.hidden": []}
    assert parse_set_args(["model.hidden=[]"]) == {"model.hidden": []}
    assert parse_set_args(["model.hidden=[64, 32]"]) == {"model.hidden": [64, 32]}
    assert ExperimentConfig().with_updates(parse_set_args(["model.hidden="])).model.hidden == []


@pytest.mark.parametrize(
    "pair, value",
    [
        ("optim.name=ADAM", "adam"),
        ("model.batch_norm=BEFORE", "before"),
        ("data.name=Breast_Cancer", "breast_cancer"),
        ("model.batch_norm_layers=Before,OFF", ["before", "off"]),
        ("device=CPU", "cpu"),
    ],
)
def test_choices_are_case_insensitive_everywhere_and_stored_in_canonical_case(pair, value):
    key = pair.split("=")[0]
    parsed = parse_set_args([pair])
    assert parsed == {key: value}
    assert ExperimentConfig().with_updates(parsed).get(key) == value
    # ... and the same in a config file
    data = ExperimentConfig().model_dump(mode="json")
    section, _, name = key.rpartition(".")
    (data[section] if section else data)[name] = (
        pair.split("=")[1].split(",") if isinstance(value, list) else (pair.split("=")[1])
    )
    assert ExperimentConfig.from_json(json.dumps(data)).get(key) == value


@pytest.mark.parametrize("key", ["seed", "optim.lr", "train.epochs", "model.hidden", "model.dropout_layers"])
def test_booleans_are_not_numbers_in_config_files(key):
    data = ExperimentConfig().model_dump(mode="json")
    section, _, name = key.rpartition(".")
    (data[section] if section else data)[name] = [True] if field_spec(key).is_list else True
    with pytest.raises(ConfigError, match=f"^{key}: .*boolean"):
        ExperimentConfig.from_json(json.dumps(data))
    with pytest.raises(ConfigError, match=f"^{key}: cannot read 'true'"):
        parse_set_args([f"{key}=true"])


def test_a_config_file_with_text_numbers_follows_the_command_line_rule():
    assert ExperimentConfig.from_json('{"optim": {"lr": " 0.5 "}}').optim.lr == 0.5
    with pytest.raises(ConfigError, match="^seed: cannot read '٣'"):
        ExperimentConfig.from_json('{"seed": "٣"}')
    with pytest.raises(ConfigError, match="^optim.lr: cannot read '1_0'"):
        ExperimentConfig.from_json('{"optim": {"lr": "1_0"}}')


@pytest.mark.parametrize(
    "text, problem",
    [
        ("[" * 100_000 + "]" * 100_000, "nested 100000 levels deep"),
        ('{"seed": ' + "7" * 5000 + "}", "integer of 5000 digits"),
        ('{"seed": 1' + " " * (2 * 1024 * 1024) + "}", "more than the"),
    ],
)
def test_a_hostile_config_file_gives_a_one_line_error(text, problem):
    with pytest.raises(ConfigError, match=problem) as e:
        ExperimentConfig.from_json(text)
    assert "\n" not in str(e.value)


def test_messages_quote_a_long_or_multiline_value_on_one_short_line():
    with pytest.raises(ConfigError) as e:
        parse_set_args(["optim.lr=" + "1\n" * 10_000])
    msg = str(e.value)
    assert "\n" not in msg and len(msg) < 200, msg
    assert "(20000 characters)" in msg
    with pytest.raises(ConfigError) as e:
        parse_set_args(["x" * 10_000])
    assert len(str(e.value)) < 200
    data = {"optim": {("k" * 5000): 1}, **{f"bad{i}": 1 for i in range(1000)}}
    with pytest.raises(ConfigError) as e:
        ExperimentConfig.from_json(json.dumps(data))
    assert len(str(e.value)) < 1000 and "more problems" in str(e.value)

"""Property tests of config parsing: any text for any key, any JSON for any field, gives a
valid config or a one-line ConfigError naming the field — never another exception."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.config import MAX_QUOTED, ConfigError, ExperimentConfig, field_specs, parse_set_args, parse_value

SPECS = field_specs()
KEYS = [s.key for s in SPECS]
CHOICES = sorted({c for s in SPECS for c in s.choices})
# Pieces that reach the parser's edge cases: signs, exponents, other scripts' digits,
# underscores, brackets, empty entries, case, whitespace, control characters.
TOKENS = [
    "0", "1", "7", "-", "+", ".", "e", "E", "5", "_", "٣", "１", ",", ",,", "[", "]", "(", ")",
    " ", "\t", "\n", "\x00", "'", '"', "true", "False", "nan", "inf", "1e999", "ADAM", "9" * 50,
    *CHOICES,
]  # fmt: skip
VALUE_TEXT = st.one_of(
    st.text(max_size=40),
    st.lists(st.sampled_from(TOKENS), max_size=8).map("".join),
)
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check_error(e: ConfigError, key: str) -> None:
    msg = str(e)
    assert key in msg, msg
    assert "\n" not in msg and "\r" not in msg, msg
    assert len(msg) < 600, len(msg)


@FUZZ
@given(key=st.sampled_from(KEYS), text=VALUE_TEXT)
def test_any_text_for_any_key_gives_a_config_or_an_error_naming_the_field(key: str, text: str) -> None:
    try:
        cfg = ExperimentConfig().with_updates(parse_set_args([f"{key}={text}"]))
    except ConfigError as e:
        _check_error(e, key)
        return
    value = cfg.get(key)
    spec = next(s for s in SPECS if s.key == key)
    if spec.kind in ("int", "float"):
        assert not isinstance(value, bool) and text.strip().isascii()
    if spec.kind == "choice":
        assert value in spec.choices  # canonical case


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | VALUE_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.sampled_from(KEYS), value=JSON_VALUES)
def test_any_json_value_for_any_field_gives_a_config_or_an_error_naming_the_field(key: str, value: object) -> None:
    data = ExperimentConfig().model_dump(mode="json")
    node = data
    parts = key.split(".")
    for part in parts[:-1]:
        node = node[part]
    node[parts[-1]] = value
    try:
        cfg = ExperimentConfig.from_json(json.dumps(data))
    except ConfigError as e:
        _check_error(e, key)
        return
    spec = next(s for s in SPECS if s.key == key)
    if spec.kind in ("int", "float"):
        assert not isinstance(value, bool)
        assert not isinstance(cfg.get(key), bool)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=300))
def test_any_config_file_text_gives_a_config_or_a_one_line_error(text: str) -> None:
    try:
        ExperimentConfig.from_json(text)
    except ConfigError as e:
        assert "\n" not in str(e) and len(str(e)) < 600


def test_messages_quote_at_most_80_characters_of_the_value_on_one_line() -> None:
    for key, text in [("optim.lr", "x" * 5000), ("optim.name", "a\nb" * 1000), ("model.hidden", "1," * 3000 + "x")]:
        try:
            parse_value(next(s for s in SPECS if s.key == key), text)
        except ConfigError as e:
            msg = str(e)
            assert "\n" not in msg
            assert len(msg) < len(key) + MAX_QUOTED + 250, msg
        else:
            raise AssertionError(f"{key}={text[:20]}... accepted")

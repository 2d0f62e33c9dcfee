"""agent_obs.env: the one set of environment parsers and the one warn-once both packages use."""

from __future__ import annotations

import warnings

import pytest

from agent_obs import env


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("TRUE", True), (" yes ", True), ("on", True),
                                               ("0", False), ("False", False), ("no", False), ("off", False)])
def test_booleans(raw: str, expected: bool) -> None:
    assert env.parse_bool(raw) is expected


@pytest.mark.parametrize("raw", ["", "maybe", "2", None])
def test_bad_booleans_say_why(raw: object) -> None:
    with pytest.raises(ValueError, match="must be a boolean"):
        env.parse_bool(raw)


def test_numbers_lists_and_mappings() -> None:
    assert env.parse_number(float, 0.0, 1.0)("0.25") == 0.25
    assert env.parse_number(int, 1)(" 7 ") == 7
    for bad, kind in (("nan", float), ("1.5", int), (True, int), ("-1", int)):
        with pytest.raises(ValueError):
            env.parse_number(kind, 0)(bad)
    assert env.parse_list(" a, b,,c ") == ("a", "b", "c")
    assert env.parse_mapping("k=v, k2 = v2") == {"k": "v", "k2": "v2"}
    with pytest.raises(ValueError, match="key=value"):
        env.parse_mapping("novalue")
    assert env.optional(env.parse_bool)("") is None


def test_from_env_warns_once_per_variable_and_value() -> None:
    environ = {"AGENT_OBS_TEST_UNIQUE_FLAG": "sometimes"}
    with pytest.warns(RuntimeWarning, match="AGENT_OBS_TEST_UNIQUE_FLAG='sometimes': must be a boolean"):
        assert env.from_env(environ, "AGENT_OBS_TEST_UNIQUE_FLAG", env.parse_bool, False) is False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert env.from_env(environ, "AGENT_OBS_TEST_UNIQUE_FLAG", env.parse_bool, False) is False
        assert env.from_env({}, "AGENT_OBS_TEST_UNIQUE_FLAG", env.parse_bool, True) is True


def test_capture_content_reads_the_given_environment() -> None:
    assert env.capture_content_from_env({"AGENT_OBS_CAPTURE_CONTENT": "on"}) is True
    assert env.capture_content_from_env({"AGENT_OBS_CAPTURE_CONTENT": ""}) is False
    assert env.capture_content_from_env({}) is False

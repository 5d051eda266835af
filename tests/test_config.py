"""Configuration precedence and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from chat.config import Config, ConfigError, load
from chat.names import check_username


def test_defaults_file_env_flags_in_that_order(tmp_path: Path):
    file = tmp_path / "c.yaml"
    file.write_text("namespace: fromfile\nclient_ttl: 20\nheartbeat_interval: 4\n")
    env = {"CHAT_CLIENT_TTL": "30", "CHAT_HEARTBEAT_INTERVAL": "3"}
    config = load(file, env=env, overrides={"heartbeat_interval": 2, "grpc_port": None})
    assert config.namespace == "fromfile"  # file over default
    assert config.client_ttl == 30  # environment over file
    assert config.heartbeat_interval == 2.0  # flag over environment
    assert config.grpc_port == 0  # a flag not given changes nothing
    assert config.redis_url == Config().redis_url  # default


def test_the_shipped_config_file_holds_the_defaults():
    assert load(None, env={}) == Config()


def test_a_bad_value_names_the_key_and_the_source(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"client_ttl from environment variable CHAT_CLIENT_TTL"):
        load(None, env={"CHAT_CLIENT_TTL": "soon"})
    file = tmp_path / "c.yaml"
    file.write_text("grpc_port: 70000\n")
    with pytest.raises(ConfigError, match="grpc_port"):
        load(file, env={})
    file.write_text("colour: blue\n")
    with pytest.raises(ConfigError, match="unknown setting 'colour'"):
        load(file, env={})
    with pytest.raises(ConfigError, match="redis_url"):
        load(None, env={}, overrides={"redis_url": "http://x"})
    with pytest.raises(ConfigError, match="does not exist"):
        load(tmp_path / "missing.yaml", env={})


@pytest.mark.parametrize(
    "raw, name",
    [
        ("alice", "alice"),
        ("  Bob Smith ", "Bob Smith"),
        ("ünïcødé", "ünïcødé"),
        ("x" * 32, "x" * 32),
    ],
)
def test_good_usernames(raw: str, name: str):
    assert check_username(raw) == name


@pytest.mark.parametrize("raw", ["", "   ", "x" * 33, "tab\there", "bell\x07", "zero\u200bwidth"])
def test_bad_usernames_get_a_sentence(raw: str):
    with pytest.raises(ValueError) as info:
        check_username(raw)
    assert str(info.value).endswith(".")

"""Client configuration: defaults, then a YAML file, then ``CHAT_*`` variables, then flags.

Every key has one documented default in :data:`FIELDS`; ``config.yaml`` at the
top of the project lists the same keys. A bad value raises :class:`ConfigError`
whose message names the key and where the value came from.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from nameserver.connect import check_url as check_redis_url

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "config.yaml"


class ConfigError(ValueError):
    """A configuration value that cannot be used; the message names the key."""


@dataclass(frozen=True)
class Config:
    """Settings of one client. Field docs are the user-facing documentation."""

    redis_url: str = "redis://127.0.0.1:6379/0"
    #: One broker URL, or several (a cluster's nodes) comma-separated; a YAML list
    #: is joined the same way. :attr:`amqp_urls` gives them one by one.
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/%2F"
    namespace: str = "chat"
    advertise_host: str = "auto"
    bind_host: str = "auto"
    grpc_port: int = 0
    heartbeat_interval: float = 5.0
    client_ttl: int = 15
    connect_timeout: float = 2.0
    keepalive_seconds: float = 1.0
    discovery_timeout: float = 1.0
    max_message_bytes: int = 4096
    group_max_age: str = "30D"
    group_max_bytes: int = 1_000_000_000
    close_delay: float = 3.0
    #: A desktop notification (``notify-send``) for messages arriving in a window
    #: without focus, once per burst; the bell and the urgency hint come anyway.
    notify: bool = False
    log_dir: str = "~/.local/state/distchat/logs"
    state_dir: str = "~/.local/state/distchat"
    #: A key file to use as this user's identity instead of the one kept per username
    #: in the state directory (empty: that one, created on first use).
    identity_file: str = ""
    #: Keep private conversations in the state directory and show them again.
    private_history: bool = True
    verbose: bool = False

    @property
    def amqp_urls(self) -> tuple[str, ...]:
        """Every broker URL, in the order given."""
        return split_urls(self.amqp_url)

    @property
    def log_path(self) -> Path:
        return Path(os.path.expanduser(self.log_dir))

    @property
    def state_path(self) -> Path:
        """Where identities, known peers and private history are kept (mode 0700)."""
        return Path(os.path.expanduser(self.state_dir))


FIELDS: dict[str, dataclasses.Field[Any]] = {f.name: f for f in dataclasses.fields(Config)}
ENV_PREFIX = "CHAT_"

_POSITIVE = {
    "heartbeat_interval",
    "client_ttl",
    "connect_timeout",
    "keepalive_seconds",
    "discovery_timeout",
    "max_message_bytes",
    "group_max_bytes",
}


#: ``scheme://user:password@``: everything between the user and the last ``@`` of a word.
_USERINFO = re.compile(r"(://[^:/@\s]*):\S*@")
_URL_KEYS = ("redis_url", "amqp_url")


def hide_passwords(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***``."""
    return _USERINFO.sub(r"\1:***@", text)


def split_urls(text: str) -> tuple[str, ...]:
    """The URLs of a comma-separated list, without blanks."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _check_amqp_urls(key: str, value: str, raw: Any, origin: str) -> str:
    urls = split_urls(value)
    if not urls:
        raise ConfigError(f"{key} from {origin} names no URL, not {raw!r}")
    for number, url in enumerate(urls, 1):
        # A piece without "@" of a value with one may be a password cut at a comma.
        shown = f"URL number {number}" if "@" in value and "@" not in url else repr(url)
        if not url.startswith(("amqp://", "amqps://")):
            raise ConfigError(f"{key} from {origin} must start with amqp://, not {shown}")
        try:
            urlsplit(url).port  # noqa: B018 - raises on a port that is not a number
        except ValueError:
            raise ConfigError(f"{key} from {origin} has a bad port in {shown}") from None
    return ",".join(urls)


def _coerce(key: str, raw: Any, origin: str) -> Any:
    kind = FIELDS[key].type
    if key == "amqp_url" and isinstance(raw, list):
        if not all(isinstance(item, str) for item in raw):
            raise ConfigError(f"{key} from {origin} must be a URL or a list of URLs, not {raw!r}")
        raw = ",".join(raw)
    try:
        if kind == "bool":
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off"}:
                return False
            raise ValueError(raw)
        if kind == "int":
            if isinstance(raw, bool):
                raise ValueError(raw)
            value: Any = int(raw)
        elif kind == "float":
            value = float(raw)
        else:
            if not isinstance(raw, str | int | float) or isinstance(raw, bool):
                raise ValueError(raw)
            value = str(raw).strip()
            if not value:
                raise ValueError(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{key} from {origin} must be a {kind}, not {raw!r}") from None
    if key in _POSITIVE and value <= 0:
        raise ConfigError(f"{key} from {origin} must be greater than 0, not {raw!r}")
    if key == "grpc_port" and not 0 <= value <= 65535:
        raise ConfigError(f"{key} from {origin} must be a port from 0 to 65535, not {raw!r}")
    if key == "redis_url":
        try:
            check_redis_url(value)
        except ValueError as exc:
            raise ConfigError(f"{key} from {origin}: {exc}, not {raw!r}") from None
    if key == "amqp_url":
        value = _check_amqp_urls(key, value, raw, origin)
    if key == "namespace" and not value.replace("-", "").replace("_", "").isalnum():
        raise ConfigError(f"{key} from {origin} may hold only letters, digits, - and _")
    return value


def _apply(values: dict[str, Any], source: Mapping[str, Any], origin: str) -> None:
    for key, raw in source.items():
        if key not in FIELDS:
            raise ConfigError(f"unknown setting {key!r} in {origin}")
        if raw is None:
            continue
        try:
            values[key] = _coerce(key, raw, origin)
        except ConfigError as exc:
            if key not in _URL_KEYS:
                raise
            raise ConfigError(hide_passwords(str(exc))) from None


def read_file(path: Path) -> dict[str, Any]:
    """Read one YAML mapping of settings; an absent default file is an empty one."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of setting: value")
    return data


def load(
    file: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Build a :class:`Config` from defaults, file, environment and flags, in that order.

    Args:
        file: a YAML file; ``None`` means ``config.yaml`` beside the package if present.
        env: the environment to read ``CHAT_*`` variables from (default ``os.environ``).
        overrides: values from command-line flags; ``None`` values are ignored.
    """
    values: dict[str, Any] = {}
    env = os.environ if env is None else env
    if file is None:
        env_file = env.get(ENV_PREFIX + "CONFIG")
        file = env_file if env_file else (DEFAULT_FILE if DEFAULT_FILE.exists() else None)
    if file is not None:
        _apply(values, read_file(Path(file)), str(file))
    from_env = {
        key: env[ENV_PREFIX + key.upper()] for key in FIELDS if ENV_PREFIX + key.upper() in env
    }
    for key, raw in from_env.items():
        _apply(values, {key: raw}, f"environment variable {ENV_PREFIX}{key.upper()}")
    if overrides:
        for key, raw in overrides.items():
            _apply(values, {key: raw}, f"--{key.replace('_', '-')}")
    return Config(**values)

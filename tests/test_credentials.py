"""Passwords in the server URLs never reach a message, the terminal or a log file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest
import redis

from chat.config import ConfigError, hide_passwords, load
from tests.ownredis import free_port
from tests.support import wait_for

SECRET = "s3cret-Pw"


@pytest.mark.parametrize(
    "key, value",
    [
        ("AMQP_URL", f"amqp://u:{SECRET}@host:notaport/"),
        ("AMQP_URL", f"amqp://u:{SECRET}@h:5672/,amqp://u:{SECRET}@h:x/"),
        ("AMQP_URL", f"http://u:{SECRET}@h/"),
        ("AMQP_URL", f"amqp://u:{SECRET[:3]},{SECRET[3:]}@h/"),
        ("AMQP_URL", f"amqp://u:{SECRET}@h:1/, amqp://u:{SECRET}@h:x/"),
        ("REDIS_URL", f"redis+sentinel://:{SECRET}@h:notaport/m/0"),
        ("REDIS_URL", f"redis+sentinel://:{SECRET}@h:1/m/notadb"),
        ("REDIS_URL", f"http://u:{SECRET}@h/"),
    ],
)
def test_a_malformed_url_is_refused_without_its_password(key: str, value: str):
    with pytest.raises(ConfigError) as refused:
        load(None, env={f"CHAT_{key}": value})
    message = str(refused.value)
    assert key.lower() in message
    for part in (SECRET, "u:" + SECRET[:3], SECRET[3:]):
        assert part not in message


def test_a_yaml_list_with_a_bad_url_is_refused_without_its_password(tmp_path: Path):
    file = tmp_path / "c.yaml"
    file.write_text(f"amqp_url:\n  - amqp://u:{SECRET}@a:5672/\n  - amqp://u:{SECRET}@b:port/\n")
    with pytest.raises(ConfigError, match=r"amqp_url from .*c\.yaml has a bad port") as refused:
        load(file, env={})
    assert SECRET not in str(refused.value)


def test_hide_passwords_keeps_the_user_and_the_hosts():
    text = f"at redis+sentinel://:{SECRET}@a:1,b:2/m/0 and amqp://chat:{SECRET}@h:5672/%2F"
    assert (
        hide_passwords(text)
        == "at redis+sentinel://:***@a:1,b:2/m/0 and amqp://chat:***@h:5672/%2F"
    )


@pytest.mark.process
def test_the_command_line_error_for_a_malformed_url_hides_the_password():
    for key in ("CHAT_AMQP_URL", "CHAT_REDIS_URL"):
        scheme = "amqp" if key == "CHAT_AMQP_URL" else "redis+sentinel"
        done = subprocess.run(
            [sys.executable, "-m", "chat.app", "--name", "x"],
            env={**os.environ, key: f"{scheme}://u:{SECRET}@host:notaport/m/0"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        said = done.stdout + done.stderr
        assert done.returncode != 0
        assert key.removeprefix("CHAT_").lower() in said
        assert SECRET not in said and "Traceback" not in said


@pytest.fixture
def redis_with_password() -> Iterator[int]:
    """A redis-server of this test's own that asks for :data:`SECRET`."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail("redis-server is not installed")
    port = free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--requirepass", SECRET]
        + ["--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    connection = redis.Redis(port=port, password=SECRET, socket_timeout=2)

    def answers() -> bool:
        try:
            return bool(connection.ping())
        except redis.ConnectionError:
            return False

    try:
        wait_for(answers, what="the test's own redis-server with a password")
        yield port
    finally:
        connection.close()
        process.terminate()
        process.wait(10)


def test_logs_and_the_refusal_hold_no_password(spawn, tmp_path: Path, redis_with_password: int):
    redis_url = f"redis://:{SECRET}@127.0.0.1:{redis_with_password}/0"
    # A wrong RabbitMQ password: the refusal names the user and hides both passwords.
    refused = spawn(
        "alice",
        ready=False,
        env={
            "CHAT_REDIS_URL": redis_url,
            "CHAT_AMQP_URL": f"amqp://guest:{SECRET}@127.0.0.1:5672/%2F",
        },
    )
    refused.child.expect(pexpect.EOF, timeout=60)
    said = refused.child.before
    assert "RabbitMQ refused the user 'guest' at amqp://guest:***@127.0.0.1:5672/" in said
    assert SECRET not in said
    # A start that works, with passwords in both URLs.
    client = spawn(
        "bob",
        env={"CHAT_REDIS_URL": redis_url, "CHAT_AMQP_URL": "amqp://guest:guest@127.0.0.1:5672/%2F"},
    )
    client.choose("Exit")
    client.exit_status()
    logs = list((tmp_path / "logs").glob("client-*.log"))
    assert len(logs) == 2
    for log in logs:
        text = log.read_text(encoding="utf-8")
        assert text.strip()
        assert SECRET not in text and ":guest@" not in text


@pytest.mark.parametrize("key", ["CHAT_REDIS_URL", "CHAT_AMQP_URL"])
def test_start_server_refuses_a_bad_port_without_the_password(key: str):
    script = Path(__file__).resolve().parent.parent / "start-server.sh"
    done = subprocess.run(
        ["bash", str(script)],
        env={**os.environ, key: f"redis://u:{SECRET}@h:notaport/0"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "cannot read a port number in 'redis://***@h:notaport/0'" in done.stderr
    assert SECRET not in done.stdout + done.stderr

"""A real client process driven through a pseudo-terminal, as a user would."""

from __future__ import annotations

import pexpect

from nameserver.registry import Registry
from tests.support import wait_for


def test_start_register_menu_exit(spawn, registry: Registry):
    client = spawn("", ready=False)
    client.expect("Username: ")
    client.child.sendline("a" * 40)
    client.expect("at most 32 characters")
    client.child.sendline("   ")
    client.expect("at least one character")
    client.child.sendline("alice")
    client.name = "alice"
    client_id = client.wait_ready()
    record = registry.get(client_id)
    assert record is not None and record.name == "alice"
    assert client.address == record.address
    client.child.sendline("9")
    client.expect("not on the menu")
    client.child.sendline("disc")  # any start of an item's name, in any case
    client.expect("Via the Redis name server")
    client.child.sendline("")
    client.expect("Choose")
    client.child.sendline("exit")
    client.expect("Goodbye, alice.")
    assert client.exit_status() == 0
    assert registry.get(client_id) is None


def test_ctrl_c_deregisters_and_says_goodbye(spawn, registry: Registry):
    client = spawn("bob")
    assert registry.get(client.id) is not None
    client.child.sendintr()
    client.expect("Goodbye, bob.")
    assert client.exit_status() == 0
    assert registry.get(client.id) is None


def test_end_of_input_deregisters_and_says_goodbye(spawn, registry: Registry):
    client = spawn("carol")
    client.child.sendeof()
    client.expect("Goodbye, carol.")
    assert client.exit_status() == 0
    assert registry.get(client.id) is None


def test_end_of_input_at_the_name_prompt_exits_cleanly(spawn):
    client = spawn("", ready=False)
    client.expect("Username: ")
    client.child.sendeof()
    client.expect("Goodbye.")
    assert client.exit_status() == 0


def test_a_killed_client_vanishes_within_its_ttl(spawn, registry: Registry):
    client = spawn("dave", env={"CHAT_CLIENT_TTL": "2", "CHAT_HEARTBEAT_INTERVAL": "0.5"})
    wait_for(lambda: registry.get(client.id) is not None, what="registration")
    client.kill()
    wait_for(lambda: registry.get(client.id) is None, timeout=5, what="the record to expire")
    assert client.id not in [r.id for r in registry.list_clients()]


def test_a_client_registers_again_after_redis_lost_its_record(
    spawn, registry: Registry, redis_conn
):
    client = spawn("erin", env={"CHAT_HEARTBEAT_INTERVAL": "0.3"})
    redis_conn.delete(registry.keys.client(client.id))
    redis_conn.zrem(registry.keys.clients, client.id)
    record = wait_for(lambda: registry.get(client.id), timeout=5, what="re-registration")
    assert record.name == "erin"


def _fails_with(spawn, sentence: str, *args: str, env: dict[str, str] | None = None):
    client = spawn("frank", *args, ready=False, env=env)
    index = client.child.expect([sentence, "You are frank", pexpect.EOF])
    assert index == 0, client.child.before
    assert client.exit_status() == 1
    assert "Traceback" not in (client.child.before or "")
    return client


def test_redis_not_answering(spawn):
    _fails_with(
        spawn,
        r"not answering at redis://127\.0\.0\.1:1/0.*start-server\.sh",
        "--redis-url",
        "redis://127.0.0.1:1/0",
    )


def test_rabbitmq_not_answering(spawn):
    _fails_with(
        spawn,
        r"RabbitMQ is not answering at amqp://guest:\*\*\*@127\.0\.0\.1:1/.*start-server",
        "--amqp-url",
        "amqp://guest:guest@127.0.0.1:1/%2F",
    )


def test_no_display(spawn):
    _fails_with(spawn, r"need a graphical display.*Xvfb", env={"DISPLAY": ""})


def test_bad_config_value_names_the_key(spawn):
    _fails_with(
        spawn,
        r"client_ttl from environment variable CHAT_CLIENT_TTL must be",
        env={"CHAT_CLIENT_TTL": "-3"},
    )


def test_a_refused_rabbitmq_login_names_the_user_and_hides_the_password(spawn):
    client = _fails_with(
        spawn,
        r"RabbitMQ refused the user 'guest' at amqp://guest:\*\*\*@127\.0\.0\.1:5672/.*"
        r"check the user name and password in amqp_url",
        "--amqp-url",
        "amqp://guest:s3cr3t-wrong@127.0.0.1:5672/%2F",
    )
    assert "s3cr3t-wrong" not in client.child.before


def test_a_taken_grpc_port_gives_one_sentence_and_no_grpc_log(spawn):
    import socket

    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        client = spawn("alice", "--grpc-port", str(port), ready=False)
        client.expect(pexpect.EOF, timeout=30)
        said = client.child.before
    assert f"Cannot listen for private chats on 127.0.0.1:{port} (the address is in use" in said
    assert "GRPC" not in said and "grpc" not in said.replace("--grpc-port", "")
    lines = [line for line in said.splitlines() if line.strip()]
    assert len(lines) == 1, lines


def test_log_files_are_readable_by_their_owner_only(spawn, tmp_path):
    import stat

    client = spawn("alice")
    logs = list((tmp_path / "logs").glob("client-*.log"))
    assert logs
    assert stat.S_IMODE(logs[0].stat().st_mode) == 0o600
    client.choose("Exit")
    client.exit_status()

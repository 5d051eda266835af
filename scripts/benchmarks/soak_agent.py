"""One client of the soak, in a process of its own, driven over its stdin and stdout.

The client is the real one (:class:`tests.support.TestClient`: the app's
features, its gRPC server, its broker connection, real Tk windows on the main
thread, plus the app's heartbeat), so its RSS and CPU are those of a client a
user runs. The soak (:mod:`benchmarks.soak`) sends it one JSON command a line
and reads one JSON answer a line; the first line it writes is
``{"ready": true, "id": ..., "pid": ...}``.

Commands (``op``): ``private`` (open a chat with ``peer``, an ID),
``close_private``, ``join`` (``group``, ``mode``, ``kind``), ``leave``,
``traffic`` (``on``: send at a human-ish rate into a random open chat),
``send_all`` (one message, ``text``, in every chat it can write to),
``report`` (every chat's log, window and own messages), ``quit``.
Messages are typed into the window and sent as the user sends them.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sys
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent.parent)]
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

from chat.config import Config  # noqa: E402
from chat.errors import UserError  # noqa: E402
from chat.groups.manager import chat_key  # noqa: E402
from chat.heartbeat import Heartbeat  # noqa: E402
from nameserver.connect import connect  # noqa: E402
from nameserver.keys import Keys  # noqa: E402
from nameserver.registry import Registry  # noqa: E402
from tests.support import TestClient  # noqa: E402

log = logging.getLogger("soak.agent")


class Agent:
    """The client, what it sent, and when each of its group memberships began."""

    def __init__(self, args: argparse.Namespace, root: Any) -> None:
        self.name = args.name
        self.config = Config(
            redis_url=args.redis_url,
            amqp_url=args.amqp_url,
            namespace=args.namespace,
            log_dir=args.log_dir,
            state_dir=args.state_dir,
            advertise_host="127.0.0.1",
        )
        self.registry = Registry(connect(self.config.redis_url), Keys(args.namespace))
        self.root = root
        self.tc = TestClient(self.config, self.registry, self.name, root=root)
        self.heartbeat = Heartbeat(
            self.registry, self.tc.me, self.config.heartbeat_interval, on_trouble=log.warning
        )
        self.heartbeat.start()
        self.rng = random.Random(args.seed)
        self.out_lock = threading.Lock()
        self.sent: list[dict[str, Any]] = []  # text, key, at (UI thread)
        self.refused = 0
        self.joined_at: dict[str, float] = {}  # group -> when the join returned
        self.back_at = 0.0  # the broker connection came back (and setups ran) last
        self.lost = 0
        self.traffic = threading.Event()
        self.gap = (args.gap_low, args.gap_high)
        self.n = 0
        self.tc.broker.add_listener(on_lost=self._on_lost, on_back=self._on_back)

    def _on_lost(self) -> None:
        self.lost += 1

    def _on_back(self) -> None:
        self.back_at = time.time()

    # -- talking to the soak ------------------------------------------------

    def say(self, answer: dict[str, Any]) -> None:
        with self.out_lock:
            sys.stdout.write(json.dumps(answer) + "\n")
            sys.stdout.flush()

    def serve(self) -> None:
        """Read commands until ``quit`` or end of input (command thread)."""
        for line in sys.stdin:
            command = json.loads(line)
            seq = command.pop("seq", None)
            op = command.pop("op")
            try:
                result = getattr(self, f"do_{op}")(**command)
                self.say({"seq": seq, "ok": True, "result": result})
            except UserError as exc:
                self.say({"seq": seq, "ok": False, "error": str(exc)})
            except Exception as exc:
                log.exception("command %s failed", op)
                self.say({"seq": seq, "ok": False, "error": repr(exc)})
            if op == "quit":
                return
        self.do_quit()

    # -- commands (command thread) -------------------------------------------

    def do_private(self, peer: str) -> bool:
        record = self.registry.get(peer)
        if record is None:
            raise UserError(f"{peer} is not in the name server")
        self.tc.private.open_with(record)
        return True

    def do_close_private(self, peer: str) -> bool:
        key = f"private:{peer}"
        return self.tc.on_ui(lambda: self._close_window(key))

    def _close_window(self, key: str) -> bool:
        if not self.tc.client.windows.is_open(key):
            return False
        self.tc.client.windows.close(key)
        return True

    def do_join(self, group: str, mode: str, kind: str) -> float:
        self.tc.groups.join(group, mode, kind)
        at = time.time()
        self.joined_at[group] = at
        return at

    def do_leave(self, group: str) -> bool:
        self.joined_at.pop(group, None)
        self.tc.on_ui(lambda: self.tc.client.windows.close(chat_key(group)))
        return True

    def do_traffic(self, on: bool) -> bool:
        if on:
            self.traffic.set()
        else:
            self.traffic.clear()
        return True

    def do_send_all(self, text: str) -> list[str]:
        """Send ``text`` (made unique per chat) in every chat this client can write to."""
        return self.tc.on_ui(lambda: [k for k in self._writable() if self._send(k, f"{text} {k}")])

    def do_report(self) -> dict[str, Any]:
        return self.tc.on_ui(self._report)

    def do_quit(self) -> bool:
        self.traffic.clear()
        self.heartbeat.stop()
        self.tc.on_ui(self._shutdown)
        return True

    def _shutdown(self) -> None:
        self.tc.close()
        self.root.after(0, self.root.quit)

    # -- the traffic thread --------------------------------------------------

    def talk(self) -> None:
        while True:
            self.traffic.wait()
            # Pacing between messages, as a person types: not a wait for a condition.
            time.sleep(self.rng.uniform(*self.gap))
            if not self.traffic.is_set():
                continue
            try:
                self.tc.on_ui(self._send_somewhere)
            except Exception:
                log.exception("sending failed")

    def _send_somewhere(self) -> None:
        keys = self._writable()
        if keys:
            self.n += 1
            self._send(self.rng.choice(keys), f"soak {self.name} {self.tc.me.id} {self.n}")

    # -- on the UI thread ------------------------------------------------------

    def _writable(self) -> list[str]:
        keys = []
        for window in self.tc.client.windows.open_windows():
            key = window.chat.key
            if window.closing or str(window.input.cget("state")) == "disabled":
                continue
            if key.startswith("group:"):
                session = self.tc.groups.membership(key[len("group:") :])
                if session is None or session.mode != "connect":
                    continue
            keys.append(key)
        return sorted(keys)

    def _send(self, key: str, text: str) -> bool:
        """Type ``text`` into the window of ``key`` and press Return; True if it was taken."""
        window = self.tc.client.windows.window(key)
        if window is None:
            return False
        at = time.time()
        window.text_var.set(text)
        window.send()
        if window.text_var.get():  # refused: the text stays in the box, a sentence says why
            window.text_var.set("")
            self.refused += 1
            return False
        self.sent.append({"text": text, "key": key, "at": at})
        return True

    def _report(self) -> dict[str, Any]:
        chats: list[dict[str, Any]] = []
        windows = self.tc.client.windows
        for name in self.tc.groups.joined():
            session = self.tc.groups.membership(name)
            if session is None:
                continue
            chats.append(
                {
                    "key": f"group:{name}",
                    "kind": session.kind,
                    "mode": session.mode,
                    "joined_at": self.joined_at.get(name),
                    **self._log_and_window(f"group:{name}", session.log),
                }
            )
        private = self.tc.private
        live = {peer for peer, _ in private.active_peers()}
        for peer, chat_log in list(private._logs.items()):
            chats.append(
                {
                    "key": f"private:{peer}",
                    "kind": "private",
                    "live": peer in live,
                    **self._log_and_window(f"private:{peer}", chat_log),
                }
            )
        return {
            "id": self.tc.me.id,
            "name": self.name,
            "at": time.time(),
            "back_at": self.back_at,
            "lost": self.lost,
            "refused": self.refused,
            "sent": self.sent,
            "chats": chats,
            "windows": len(windows.open_windows()),
        }

    def _log_and_window(self, key: str, chat_log: Any) -> dict[str, Any]:
        window = self.tc.client.windows.window(key)
        is_open = window is not None and not window.closed
        return {
            "entries": [
                [e.side, e.sender_id, e.text, e.status]
                for e in chat_log.entries
                if e.side in ("own", "peer")
            ],
            "open": is_open,
            "shown": [text for side, text in window.shown()] if is_open else [],
            "status_line": str(window.status.cget("text")) if is_open else "",
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--amqp-url", required=True)
    parser.add_argument("--log-dir", required=True)
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--gap-low", type=float, default=1.0)
    parser.add_argument("--gap-high", type=float, default=4.0)
    args = parser.parse_args()
    Path(args.log_dir).mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        filename=str(Path(args.log_dir) / f"{args.name}.log"),
        level=logging.INFO,
        format="%(asctime)s %(threadName)s %(name)s %(levelname)s %(message)s",
    )
    import tkinter

    root = tkinter.Tk()
    root.withdraw()
    agent = Agent(args, root)
    agent.say({"ready": True, "id": agent.tc.me.id, "pid": os.getpid()})
    threading.Thread(target=agent.serve, name="commands", daemon=True).start()
    threading.Thread(target=agent.talk, name="traffic", daemon=True).start()
    root.mainloop()
    root.destroy()


if __name__ == "__main__":
    main()

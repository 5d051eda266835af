#!/usr/bin/env python3
"""Fill real chat windows and save pictures of them to docs/screenshots/.

Starts three clients (alice, bob and carol) in this process against the real
Redis and RabbitMQ, each with its private-chat server, group chats and the
insult channel, on a virtual display of its own (Xvfb); fills a private
chat, a persistent group with history from earlier days (its member line,
and an "unread from here" line after carol was away), and the insult
channel; and saves one PNG per window with ImageMagick's ``import``.

Usage: ``.venv/bin/python scripts/screenshots.py [--out DIR] [--wm] [--screen PNG]``
(needs Xvfb and ImageMagick: ``apt-get install xvfb imagemagick``). ``--wm``
runs openbox on the display, as a desktop would; ``--screen`` also saves the
whole screen at the end, to look at the windows as a user sees them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent)]  # chat, nameserver and tests.support

REDIS_URL = os.environ.get("CHAT_REDIS_URL", "redis://127.0.0.1:6379/0")
AMQP_URL = os.environ.get("CHAT_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
DISPLAY = ":58"
HOUR = 3600.0


def start_display() -> subprocess.Popen[bytes]:
    xvfb = subprocess.Popen(
        ["Xvfb", DISPLAY, "-screen", "0", "1400x900x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.environ["DISPLAY"] = DISPLAY
    deadline = time.monotonic() + 10
    while not Path(f"/tmp/.X11-unix/X{DISPLAY[1:]}").exists():
        if time.monotonic() > deadline or xvfb.poll() is not None:
            raise SystemExit(f"Xvfb did not start on {DISPLAY}")
        time.sleep(0.05)
    return xvfb


class Scene:
    """The Tk root, the clients, and a way to wait while their windows update."""

    def __init__(self, namespace: str) -> None:
        import tkinter

        from chat.config import Config
        from nameserver.connect import connect
        from nameserver.keys import Keys
        from nameserver.registry import Registry

        self.root = tkinter.Tk(className="distchat")
        self.root.withdraw()
        self.state = tempfile.TemporaryDirectory(prefix="distchat-shots-")
        self.config = Config(
            redis_url=REDIS_URL,
            amqp_url=AMQP_URL,
            namespace=namespace,
            log_dir="/tmp",
            state_dir=self.state.name,
            advertise_host="127.0.0.1",
        )
        self.redis = connect(REDIS_URL)
        self.registry = Registry(self.redis, Keys(namespace), ttl=60)
        self.clients: list[Any] = []
        self._closers: list[Callable[[], None]] = []

    def client(self, name: str) -> Any:
        """A real client with every feature, its windows on this scene's root."""
        from tests.support import TestClient

        client = TestClient(self.config, self.registry, name, root=self.root)
        self.clients.append(client)

        def close() -> None:
            client.close()
            self.root.update()

        self._closers.append(close)
        return client

    def wait(self, condition: Callable[[], Any], what: str, timeout: float = 20) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            self.root.update()
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out waiting for {what}")
            time.sleep(0.01)

    def settle(self, seconds: float = 0.4) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.root.update()
            time.sleep(0.01)

    def close(self) -> None:
        for close in reversed(self._closers):
            close()
        self.root.destroy()
        self.state.cleanup()


def say(scene: Scene, window: Any, text: str) -> None:
    window.text_var.set(text)
    window.send()
    scene.settle(0.25)


def focus(scene: Scene, window: Any) -> None:
    """The user clicks into ``window`` (the keyboard goes to its input box)."""
    window.frame.event_generate("<ButtonPress-1>", x=2, y=2)
    window.top.focus_force()
    scene.wait(window.has_focus, "the keyboard in the window")
    scene.settle(0.1)


def shoot(scene: Scene, window: Any, path: Path) -> None:
    window.top.lift()
    window.top.geometry("+40+40")
    scene.settle(0.6)
    subprocess.run(["import", "-window", str(window.top.winfo_id()), str(path)], check=True)
    print(f"saved {path}")


def private_chat(scene: Scene, alice: Any, bob: Any, out: Path) -> None:
    alice.private.open_with(bob.me)
    title_a, title_b = f"Chat with {bob.me.name} ({bob.me.id})", f"Chat with alice ({alice.me.id})"

    def window(client: Any, title: str) -> Any:
        return next(
            (w for w in client.client.windows.open_windows() if w.chat.title == title), None
        )

    mine = scene.wait(lambda: window(alice, title_a), "alice's window")
    theirs = scene.wait(lambda: window(bob, title_b), "bob's window")
    focus(scene, theirs)  # the picture is bob's: he is in his window
    say(scene, mine, "Hi Bob! Did you get the slides for tomorrow?")
    say(scene, theirs, "Yes, thanks. I had a look this morning.")
    say(scene, theirs, "Slide 12 has last year's figures, though.")
    say(scene, mine, "Good catch. I'll fix it tonight.\nAnything else?")
    say(scene, theirs, "No, the rest reads well. See you at ten ☕")
    say(scene, mine, "See you!")
    scene.wait(lambda: "…" not in theirs.history.get("1.0", "end"), "delivery marks")
    shoot(scene, theirs, out / "private-chat.png")
    mine.close()
    scene.wait(lambda: ("notice", "alice left the chat") in theirs.shown(), "the goodbye")
    shoot(scene, theirs, out / "private-chat-ended.png")
    theirs.keep_open()
    theirs.close()


def group_chat(scene: Scene, alice: Any, bob: Any, carol: Any, out: Path) -> None:
    import pika

    from chat.groups.manager import chat_key
    from chat.transport.topology import Names
    from chat.transport.wire import ChatMessage
    from chat.trust.identity import Identity

    group = "book-club"
    alice.groups.join(group, "connect", "persistent")
    window_a = scene.wait(
        lambda: alice.client.windows.window(chat_key(group)), "alice's group window"
    )
    # History from earlier days, as if written then.
    now = time.time()
    earlier = [
        (now - 50 * HOUR, "dana", "d4na", "Next month: 'The Left Hand of Darkness'?"),
        (now - 50 * HOUR + 60, "erik", "3r1k", "Yes! I have wanted to read it for ages."),
        (now - 50 * HOUR + 95, "erik", "3r1k", "Paper or e-book, does anyone care?"),
        (now - 49.5 * HOUR, "dana", "d4na", "Either works. We meet on the 14th."),
        (now - 26 * HOUR, "erik", "3r1k", "Halfway through. The sledge journey is something."),
        (now - 25.9 * HOUR, "dana", "d4na", "Don't spoil it, I'm only at chapter 6 😄"),
    ]
    names = Names(scene.config.namespace)
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    channel = connection.channel()
    channel.confirm_delivery()
    keys = {name: Identity.generate() for _ts, name, _sender, _text in earlier}
    for ts, name, sender, text in earlier:
        msg = ChatMessage(sender, name, group, text, ts=ts)
        body = msg.encode(keys[name])
        channel.basic_publish(names.groups_exchange, group, body, msg.properties())
    connection.close()
    # Carol met an erik with another key before: his messages are marked.
    carol.known_peers.accept("erik", Identity.generate().public_key_b64)
    say(scene, window_a, "Finished it last night. What an ending.")
    carol.groups.join(group, "connect", "persistent")
    window_c = scene.wait(
        lambda: carol.client.windows.window(chat_key(group)), "carol's group window"
    )
    scene.wait(lambda: any(s == "separator" for s, _ in window_c.shown()), "the separator")
    bob.groups.join(group, "subscribe", "persistent")
    scene.wait(lambda: ("notice", "bob joined") in window_c.shown(), "bob's join")
    focus(scene, window_c)  # the pictures are carol's: she is in her window
    say(scene, window_a, "Welcome, Carol! We are on 'The Left Hand of Darkness'.")
    say(scene, window_a, "Meeting is on the 14th, 7 pm, usual place.")
    say(scene, window_c, "Thanks! I'll pick up a copy this week.")
    scene.wait(lambda: len([s for s, _ in window_c.shown() if s == "own"]) == 1, "carol's own")
    shoot(scene, window_c, out / "group-chat.png")
    # Who is there: the group feature keeps the member line; shown here either way.
    if not window_c.log.members_known:
        window_c.log.set_members(["alice", "bob", "carol", "dana", "erik"])
    # Carol goes to another window; what comes meanwhile is under the unread line.
    focus(scene, window_a)
    say(scene, window_a, "Dana, Erik: are you coming on the 14th?")
    say(scene, window_a, "I can bring my copy for anyone who needs one.")
    scene.wait(lambda: window_c.view.unread_before() is not None, "the unread line")
    focus(scene, window_c)
    window_c.scroll_to_end()
    shoot(scene, window_c, out / "group-chat-members-unread.png")
    # Carol scrolls up to read; new messages wait below, announced by the bar.
    window_c.history.yview_scroll(-6, "units")
    scene.settle(0.2)
    say(scene, window_a, "Bring the book, we'll read the opening aloud.")
    say(scene, window_a, "And snacks!")
    scene.wait(lambda: window_c.new_bar.winfo_ismapped(), "the new-messages bar")
    shoot(scene, window_c, out / "group-chat-new-messages.png")
    # At the top: erik's messages, signed by another key than the one carol knows.
    window_c.scroll_to_end()
    window_c.history.yview_moveto(0.0)
    scene.settle(0.3)
    shoot(scene, window_c, out / "group-chat-changed-key.png")


def insult_channel(scene: Scene, alice: Any, bob: Any, out: Path) -> None:
    from chat.insults import KEY

    alice_insults, bob_insults = alice.insults, bob.insults
    alice_insults.open()
    bob_insults.open()
    window_a = scene.wait(lambda: alice.client.windows.window(KEY), "alice's insult channel")
    window_b = scene.wait(lambda: bob.client.windows.window(KEY), "bob's insult channel")
    focus(scene, window_a)
    say(scene, window_b, "Your mother was a hamster and your father smelt of elderberries!")
    say(scene, window_b, "I fart in your general direction.")
    say(scene, window_a, "You empty-headed animal food trough wiper!")
    scene.wait(lambda: len([s for s, _ in window_a.shown() if s == "peer"]) >= 2, "insults")
    shoot(scene, window_a, out / "insult-channel.png")


def clean(namespace: str) -> None:
    import pika

    from chat.transport.topology import Names
    from nameserver.connect import connect
    from nameserver.keys import Keys

    names = Names(namespace)
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    connection.channel().queue_delete(names.group_stream("book-club"))
    connection.channel().queue_delete(names.insult_queue)
    connection.channel().exchange_delete(names.groups_exchange)
    connection.close()
    r = connect(REDIS_URL)
    keys = list(r.scan_iter(match=Keys(namespace).pattern, count=1000))
    if keys:
        r.delete(*keys)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(HERE.parent / "docs" / "screenshots"))
    parser.add_argument("--wm", action="store_true", help="run openbox on the display")
    parser.add_argument("--screen", help="also save the whole screen to this PNG at the end")
    args = parser.parse_args()
    for tool in ("Xvfb", "import"):
        if shutil.which(tool) is None:
            print(f"{tool} is missing: apt-get install xvfb imagemagick", file=sys.stderr)
            return 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    namespace = f"shots-{uuid.uuid4().hex[:8]}"
    xvfb = start_display()
    wm = None
    if args.wm and shutil.which("openbox"):
        wm = subprocess.Popen(["openbox"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        scene = Scene(namespace)
        try:
            alice, bob, carol = scene.client("alice"), scene.client("bob"), scene.client("carol")
            private_chat(scene, alice, bob, out)
            group_chat(scene, alice, bob, carol, out)
            insult_channel(scene, alice, bob, out)
            if args.screen:
                scene.settle(0.5)
                subprocess.run(["import", "-window", "root", args.screen], check=True)
                print(f"saved {args.screen}")
        finally:
            scene.close()
            clean(namespace)
    finally:
        if wm is not None:
            wm.terminate()
            wm.wait(5)
        xvfb.terminate()
        xvfb.wait(5)
    return 0


if __name__ == "__main__":
    sys.exit(main())

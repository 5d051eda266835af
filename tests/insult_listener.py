"""A listener on the insult channel in its own process, for tests that kill it with SIGKILL.

Usage: ``python -m tests.insult_listener AMQP_URL NAMESPACE CLIENT_ID HOLD_AFTER``.
Prints ``ready`` once listening, ``got <id>`` for every insult it takes (the
insult is acknowledged right after), and after HOLD_AFTER insults prints
``holding <id>`` and hangs on to that one without acknowledging it, until
it is killed.
"""

from __future__ import annotations

import sys
import threading

from chat.insults.channel import InsultChannel
from chat.transport.broker import Broker
from chat.transport.topology import Names
from chat.transport.wire import ChatMessage


def main(url: str, namespace: str, client_id: str, hold_after: str) -> None:
    broker = Broker(url, name=f"insult listener {client_id}")
    broker.start()
    channel = InsultChannel(broker, Names(namespace), client_id, client_id)
    taken = 0
    forever = threading.Event()

    def deliver(message: ChatMessage, verdict: object = None) -> None:
        nonlocal taken
        if taken == int(hold_after):
            print(f"holding {message.id}", flush=True)
            forever.wait()
        taken += 1
        print(f"got {message.id}", flush=True)

    channel.connect(deliver)
    print("ready", flush=True)
    forever.wait()


if __name__ == "__main__":
    main(*sys.argv[1:5])

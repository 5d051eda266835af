"""Who may hold a stream on this client's chat server, and for how long.

The gRPC server is synchronous: every open stream holds one thread of its
pool, from the moment the call arrives until it ends. A thread blocked on a
read costs little (its stack is mostly untouched memory), so the pool is
sized for every stream the limits below allow, and the server takes no
more calls than that (``maximum_concurrent_rpcs``: beyond it a call is
refused at once instead of queueing behind the others). The streams are
counted, in two stages, before anything blocks on them:

- **Waiting for the hello.** A caller sends its hello at once (with the call
  itself), so one that has not sent it within :data:`HELLO_DEADLINE` is cut
  off. At most :data:`WAITING_PER_ADDRESS` streams per remote address and
  :data:`WAITING_TOTAL` in all may wait; a new one beyond that cuts off the
  *oldest* waiting one (as sshd's ``MaxStartups`` drops unauthenticated
  connections), so silent callers churn among themselves and a real caller,
  whose hello is already there when its stream starts, gets through. (One
  silent caller cannot tell a real one from the same address apart before
  the hello; the per-address cap is set well above what one machine needs,
  so that only a flood reaches it.)
- **Chatting.** At most :data:`CHATS_PER_ADDRESS` chats per remote address
  and :data:`CHATS_TOTAL` in all, and at most :data:`OPENED_PER_MINUTE`
  opened in any minute; a hello beyond that is refused with a sentence.

So waiting callers can never take the thread a chat needs. One reaper
thread cuts off late hellos; no timer per call. (``grpc.aio`` would hold no
thread at all while waiting, but the chat session is built on blocking
iterators on both sides; bridging it costs a thread per chat again.)
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from itertools import count

log = logging.getLogger(__name__)

#: Seconds a caller has to send its hello once its call arrived.
HELLO_DEADLINE = 1.0
WAITING_PER_ADDRESS = 128
WAITING_TOTAL = 256
CHATS_PER_ADDRESS = 32
CHATS_TOTAL = 64
OPENED_PER_MINUTE = 60
#: Threads of the server's pool: every stream the limits allow, and some to spare
#: for the calls being cut off or refused at that moment.
POOL_THREADS = WAITING_TOTAL + CHATS_TOTAL + 32


def remote_address(peer: str) -> str:
    """The address part of a gRPC peer string (``ipv4:1.2.3.4:5678`` -> ``1.2.3.4``)."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv6":
        return rest.rsplit(":", 1)[0].strip("[]")
    if kind == "ipv4":
        return rest.rsplit(":", 1)[0]
    return peer


class Admission:
    """The counts of waiting and chatting streams of one chat server (thread-safe)."""

    def __init__(
        self,
        hello_deadline: float = HELLO_DEADLINE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.hello_deadline = hello_deadline
        self._clock = clock
        self._lock = threading.Condition()
        self._ids = count()
        # token -> (address, deadline, cut off); insertion order is age order.
        self._waiting: dict[int, tuple[str, float, Callable[[], None]]] = {}
        self._chats: dict[str, int] = {}
        self._opened: deque[float] = deque()
        self._reaper: threading.Thread | None = None
        #: Streams cut off before their hello, and hellos refused (for tests and the log).
        self.cut_off = 0
        self.refused = 0

    # -- waiting for the hello -------------------------------------------------

    def waiting(self, address: str, cut_off: Callable[[], None]) -> int:
        """Count a new stream that has not said hello; returns its token.

        May cut off the oldest waiting stream (of this address, or of all).
        """
        victims = []
        with self._lock:
            token = next(self._ids)
            self._waiting[token] = (address, self._clock() + self.hello_deadline, cut_off)
            same = [t for t, (a, _, _) in self._waiting.items() if a == address]
            if len(same) > WAITING_PER_ADDRESS:
                victims.append(self._waiting.pop(same[0])[2])
            if len(self._waiting) > WAITING_TOTAL:
                victims.append(self._waiting.pop(next(iter(self._waiting)))[2])
            self._ensure_reaper()
            self._lock.notify()
        for victim in victims:
            self._cut(victim, "too many callers waiting to say hello")
        return token

    def said_hello(self, token: int) -> bool:
        """The stream's hello arrived; False when it was cut off meanwhile."""
        with self._lock:
            return self._waiting.pop(token, None) is not None

    def _cut(self, cut_off: Callable[[], None], why: str) -> None:
        self.cut_off += 1
        log.info("cut off a caller that has not said hello: %s", why)
        try:
            cut_off()
        except Exception:
            log.exception("cutting off a silent caller failed")

    def _ensure_reaper(self) -> None:
        if self._reaper is None:
            self._reaper = threading.Thread(target=self._reap, name="hello-reaper", daemon=True)
            self._reaper.start()

    def _reap(self) -> None:
        while True:
            with self._lock:
                while not self._waiting:
                    self._lock.wait()
                _, (_, deadline, cut_off) = next(iter(self._waiting.items()))
                delay = deadline - self._clock()
                if delay > 0:
                    self._lock.wait(delay)
                    continue
                self._waiting.pop(next(iter(self._waiting)))
            self._cut(cut_off, f"no hello within {self.hello_deadline:g} s")

    # -- chatting -----------------------------------------------------------------

    def open_chat(self, address: str) -> str | None:
        """Count a chat that said hello; None when admitted, else why not (a sentence)."""
        with self._lock:
            now = self._clock()
            while self._opened and self._opened[0] <= now - 60:
                self._opened.popleft()
            if len(self._opened) >= OPENED_PER_MINUTE:
                why = "too many chats were opened with this client in the last minute"
            elif self._chats.get(address, 0) >= CHATS_PER_ADDRESS:
                why = "too many chats are open from your address"
            elif sum(self._chats.values()) >= CHATS_TOTAL:
                why = "this client has too many chats open"
            else:
                self._opened.append(now)
                self._chats[address] = self._chats.get(address, 0) + 1
                return None
        self.refused += 1
        return why + "; try again later"

    def close_chat(self, address: str) -> None:
        with self._lock:
            left = self._chats.get(address, 0) - 1
            if left > 0:
                self._chats[address] = left
            else:
                self._chats.pop(address, None)

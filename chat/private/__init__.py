"""Private chats: peer to peer over the ``PrivateChat`` gRPC service every client hosts.

- :mod:`chat.private.session`: the conversation rules over one stream (no Tk).
- :mod:`chat.private.conversation`: one chat as the user sees it (session, log, window).
- :mod:`chat.private.dial`: calling a peer, and calls that cross.
- :mod:`chat.private.servicer`: the gRPC servicer, the callee's side.
- :mod:`chat.private.feature`: the feature: opening, accepting, windows, goodbyes at exit.
- :mod:`chat.private.menu`: the "Private chat" menu item.
"""

from __future__ import annotations

from chat.private.feature import PrivateChats
from chat.private.servicer import PrivateChatServicer

__all__ = ["PrivateChatServicer", "PrivateChats"]

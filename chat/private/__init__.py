"""Private chats: peer to peer over the ``PrivateChat`` gRPC service every client hosts.

- :mod:`chat.private.session`: the conversation rules over one stream (no Tk).
- :mod:`chat.private.service`: the servicer, the callee's side.
- :mod:`chat.private.manager`: the feature: dialling, accepting, windows,
  goodbyes at exit.
- :mod:`chat.private.menu`: the "Private chat" menu item.
"""

from __future__ import annotations

from chat.private.manager import PrivateChats
from chat.private.service import PrivateChat

__all__ = ["PrivateChat", "PrivateChats"]

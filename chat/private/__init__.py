"""Private chats: peer to peer over the ``PrivateChat`` gRPC service every client hosts.

- :mod:`chat.private.session`: the conversation rules over one stream (no Tk).
- :mod:`chat.private.service`: the servicer, the callee's side.
- :mod:`chat.private.manager`: ``client.features["private"]``: dialling,
  accepting, windows, goodbyes at exit.
- :mod:`chat.private.menu`: the "Private chat" menu item.
"""

from __future__ import annotations

from chat.client import Client
from chat.private.manager import PrivateChats
from chat.private.service import PrivateChat
from chat.proto import private_chat_pb2_grpc as pb_grpc

__all__ = ["PrivateChat", "PrivateChats", "start"]


def start(client: Client) -> None:
    """Attach private chats to a client: the manager, the servicer, the goodbye at exit."""
    chats = PrivateChats(client)
    client.features["private"] = chats
    pb_grpc.add_PrivateChatServicer_to_server(PrivateChat(chats), client.features["server"])
    client.at_exit(chats.close_all)

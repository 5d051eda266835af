"""Group chats on RabbitMQ: connect or subscribe, transient or persistent with history."""

from __future__ import annotations

from chat.groups.manager import GroupManager, start

__all__ = ["GroupManager", "start"]

"""Group chats on RabbitMQ: connect or subscribe, transient or persistent with history."""

from __future__ import annotations

from chat.groups.manager import GroupManager

__all__ = ["GroupManager"]

"""Discover chats two ways: read the Redis name server, or ask every client over RabbitMQ."""

from __future__ import annotations

from chat.discovery.service import Discovery

__all__ = ["Discovery"]

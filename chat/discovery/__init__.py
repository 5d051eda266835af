"""Discover chats two ways: read the Redis name server, or ask every client over RabbitMQ."""

from chat.discovery.service import Discovery, start

__all__ = ["Discovery", "start"]

"""Discover chats through any number of sources: today the Redis name server and a RabbitMQ event.

- :mod:`chat.discovery.source`: the :class:`~chat.discovery.source.Source` protocol, its
  two sources and what a look finds (a sighting).
- :mod:`chat.discovery.compare`, :mod:`chat.discovery.view`: sightings side by side, listings.
- :mod:`chat.discovery.menu`: the "Discover chats" menu item.
- :mod:`chat.discovery.feature`: the feature (answers others, holds the sources).
"""

from __future__ import annotations

from chat.discovery.feature import Discovery

__all__ = ["Discovery"]

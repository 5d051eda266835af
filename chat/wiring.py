"""The client's features, built in one place: the app and the test client use this.

Order matters: features start in this order (private chats add their
servicer before the gRPC server starts), the menu lists them in this order,
and they close in the reverse order at exit.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence

from chat.client import Client
from chat.discovery import Discovery
from chat.features import Description, Feature
from chat.groups import GroupManager
from chat.insults import InsultFeature
from chat.private import PrivateChats

log = logging.getLogger(__name__)

#: Every feature, by key, in menu order.
ALL = ("private", "groups", "discovery", "insults")


def build_features(client: Client, keys: Collection[str] = ALL) -> list[Feature]:
    """The features named in ``keys`` (default: all), wired to each other, not started."""
    unknown = set(keys) - set(ALL)
    if unknown:
        raise ValueError(f"unknown features: {', '.join(sorted(unknown))}")
    features: list[Feature] = []
    private = PrivateChats(client) if "private" in keys else None
    groups = GroupManager(client) if "groups" in keys else None
    features += [f for f in (private, groups) if f is not None]
    if "discovery" in keys:
        features.append(
            Discovery(client, opener=private, joiner=groups, describe=lambda: describe(features))
        )
    if "insults" in keys:
        features.append(InsultFeature(client))
    return features


def describe(features: Sequence[Feature]) -> Description:
    """What every feature has open, for a discovery answer."""
    found = Description()
    for feature in features:
        try:
            feature.describe(found)
        except Exception:
            log.exception("feature %s could not describe itself", feature.key)
    return found


def open_chats(features: Sequence[Feature]) -> int:
    """How many chats (private and group) are open right now, for the Exit question."""
    found = describe(features)
    return len(found.private_chats) + len(set(found.groups))


def close_all(features: Sequence[Feature]) -> None:
    """Close every feature, the last started first; one failing does not stop the rest."""
    for feature in reversed(features):
        try:
            feature.close()
        except Exception:
            log.exception("closing feature %s failed", feature.key)

"""Errors meant for the user: a leaf module that any part of the client may import."""

from __future__ import annotations


class UserError(Exception):
    """Something the user asked for that cannot be done; the message is for them."""

"""Sending and receiving: the broker connection, gRPC settings, wire
formats and the checks at the edge."""

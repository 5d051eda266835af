"""Who is who: identity keys, signatures, the private-chat handshake,
known peers, TLS material and the state files that keep them."""

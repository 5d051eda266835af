"""A distributed terminal chat client: private chats over gRPC, groups over RabbitMQ."""

__version__ = "0.1.0"

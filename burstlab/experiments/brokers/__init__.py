"""Broker comparison: the same run on Redis and RabbitMQ, side by side."""

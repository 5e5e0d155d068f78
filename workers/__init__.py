"""Celery workers that run burstlab's work function from the Redis queue."""

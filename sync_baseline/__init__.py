"""The blocking sync baseline: gunicorn sync workers, one request per process at a time."""

"""The example project's own Celery settings (burstlab leaves them as they are)."""

broker_url = "redis://localhost:6379/0"
result_backend = "redis://localhost:6379/1"
task_serializer = "json"
result_serializer = "json"
accept_content = ["json"]
task_routes = {"reports.render": {"queue": "reports"}}
task_acks_late = True
worker_prefetch_multiplier = 1
task_soft_time_limit = 20
task_time_limit = 30

"""Grafana dashboards as code, their files, and the panels rendered to PNG from Prometheus."""

"""Kubernetes manifests burstlab renders from its own definitions (deploy/k8s holds the rest)."""

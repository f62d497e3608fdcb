"""Operating a worker: settings, Prometheus metrics, health endpoints."""

"""Integration tests: each needs a real part (Kafka, PostgreSQL, Prometheus) it starts itself."""

"""Integration tests: each needs a real part (Kafka, PostgreSQL, Prometheus) that it starts itself."""

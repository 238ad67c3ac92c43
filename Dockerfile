# The scorer and simulator image: Python 3.11, dependencies exactly as locked in uv.lock.
#
#   docker build -t engagement-score:0.1.0 .
#   docker run --rm engagement-score:0.1.0                        # a scorer worker
#   docker run --rm engagement-score:0.1.0 engagement-simulator --help
#
# Configuration is the ENGAGEMENT_* environment (docs/settings.md). Kubernetes manifests:
# deploy/kubernetes/.
#
# The base image is pinned to an exact release (Python 3.11.11 on Debian 12). Where a
# registry is reachable, pin its digest as well: --build-arg PYTHON_IMAGE=python:3.11.11-slim-bookworm@sha256:...
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

# ---- build: a virtualenv with the locked dependencies and the project (not editable) ----
FROM ${PYTHON_IMAGE} AS build

ARG UV_VERSION=0.13.9
RUN pip install --no-cache-dir --disable-pip-version-check "uv==${UV_VERSION}"

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=python3.11 \
    UV_PROJECT_ENVIRONMENT=/app/.venv

WORKDIR /app

# Dependencies first: this layer is rebuilt only when the lock changes.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project

COPY shared ./shared
COPY services ./services
RUN uv sync --frozen --no-dev --no-editable

# ---- runtime ------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}

# A numeric user (Kubernetes' runAsNonRoot can only check a numeric USER).
RUN groupadd --system --gid 10001 engagement \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home engagement \
    && mkdir -p /app/data \
    && chown 10001:10001 /app/data

COPY --from=build /app/.venv /app/.venv

ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    ENGAGEMENT_DATA_DIR=/app/data \
    ENGAGEMENT_WEB_PORT=6066

WORKDIR /app
USER 10001:10001
EXPOSE 6066

# The worker listens on, and advertises as Faust's canonical URL, the container's hostname
# (unless ENGAGEMENT_WEB_HOST is set, as the Kubernetes StatefulSet does with the pod IP):
# reachable by the other replicas and by Prometheus.
CMD ["sh", "-c", "export ENGAGEMENT_WEB_HOST=\"${ENGAGEMENT_WEB_HOST:-$(hostname)}\"; exec engagement-scorer"]

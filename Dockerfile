# The scorer and simulator image: Python 3.11, dependencies exactly as locked in uv.lock.
#
#   docker build -t engagement-score:local .
#   docker run --rm engagement-score:local                        # a scorer worker
#   docker run --rm engagement-score:local python -m engagement_simulator --help
#
# Configuration is the ENGAGEMENT_* environment (shared/engagement/settings.py).

# ---- build: a virtualenv with the locked dependencies and the project (not editable) ----
FROM python:3.11-slim AS build

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
FROM python:3.11-slim

RUN groupadd --system --gid 10001 engagement \
    && useradd --system --uid 10001 --gid engagement --home-dir /app --no-create-home engagement \
    && mkdir -p /app/data \
    && chown engagement:engagement /app/data

COPY --from=build /app/.venv /app/.venv

ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    ENGAGEMENT_DATA_DIR=/app/data \
    ENGAGEMENT_WEB_PORT=6066

WORKDIR /app
USER engagement
EXPOSE 6066

# The worker listens on, and advertises as Faust's canonical URL, the container's hostname
# (unless ENGAGEMENT_WEB_HOST is set): reachable by the other replicas and by Prometheus.
CMD ["sh", "-c", "export ENGAGEMENT_WEB_HOST=\"${ENGAGEMENT_WEB_HOST:-$(hostname)}\"; exec python -m engagement_scorer worker"]

# drift-engine: one image for the runner (`drift-engine run`) and the dashboard
# (`drift-engine dashboard`). See deploy/docker-compose.yml and docs/deploy.md.
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m venv /opt/drift-engine \
    && /opt/drift-engine/bin/pip install ".[postgres]"

FROM python:3.11-slim-bookworm
ENV PATH=/opt/drift-engine/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DRIFT_ENGINE_DATA_DIR=/var/lib/drift-engine \
    DRIFT_ENGINE_CONFIG=/etc/drift-engine/engines.toml
COPY --from=build /opt/drift-engine /opt/drift-engine
RUN useradd --system --uid 10001 --home-dir /var/lib/drift-engine --create-home drift \
    && mkdir -p /etc/drift-engine && chown drift /var/lib/drift-engine
USER drift
WORKDIR /var/lib/drift-engine
# 8000: dashboard (/, /api, /metrics, /healthz, /readyz); 9108: run --metrics-port
EXPOSE 8000 9108
ENTRYPOINT ["drift-engine"]
CMD ["--help"]

# privacy-pipeline processes (worker, sink, collector, CLI). Kafka itself runs from the
# apache/kafka image (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PRIVACY_PIPELINE_DATA_DIR=/data \
    PRIVACY_PIPELINE_ANALYTICS_DIR=/analytics

WORKDIR /app
COPY pyproject.toml README.md ./
COPY pipeline ./pipeline
COPY processors ./processors
COPY schemas ./schemas
COPY keys ./keys
RUN pip install . \
    && useradd --create-home --uid 10001 pipeline \
    && mkdir -p /data /analytics \
    && chown pipeline /data /analytics \
    && chmod 0700 /data /analytics

USER pipeline
# No VOLUME instruction: compose mounts named volumes where needed, and the internet-facing
# collector must get no volume at all (not even an anonymous one at /data).
ENTRYPOINT ["privacy-pipeline"]
CMD ["--help"]

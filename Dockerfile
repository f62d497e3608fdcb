# momentstream worker image: `docker build -t momentstream .` then `docker run momentstream worker`.
# Two stages: the build stage makes a virtual environment with the pinned packages (and the rocksdb
# extra, for `store: rocksdb`); the runtime stage copies only that environment and runs as a non-root user.

FROM python:3.11.7-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/momentstream
COPY pyproject.toml README.md ./
COPY src ./src
RUN /opt/momentstream/bin/pip install '.[rocksdb]'

FROM python:3.11.7-slim-bookworm AS runtime
LABEL org.opencontainers.image.title="momentstream" \
      org.opencontainers.image.description="Streaming engine that finds the moments when an intervention matters most" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 momentstream \
    && useradd --system --uid 10001 --gid momentstream --home-dir /var/lib/momentstream --create-home momentstream
COPY --from=build /opt/momentstream /opt/momentstream
ENV PATH=/opt/momentstream/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    MOMENTSTREAM_DATA_DIR=/var/lib/momentstream \
    MOMENTSTREAM_LOG_FORMAT=json
WORKDIR /var/lib/momentstream
USER 10001:10001
VOLUME ["/var/lib/momentstream"]
EXPOSE 6066
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:6066/healthz', timeout=2).status != 200)"]
ENTRYPOINT ["momentstream"]
CMD ["worker"]

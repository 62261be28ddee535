# newswatch container: config at /config (mount yours read-only), data in the /data volume.
# Build: podman build --format docker -t newswatch .   (see README "Container")
FROM docker.io/library/debian:bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY service ./service
COPY alerts ./alerts
# pip and setuptools are only needed to install: removed from the image (23 MB)
RUN python3 -m venv /opt/newswatch \
 && /opt/newswatch/bin/pip install --no-cache-dir --disable-pip-version-check -c constraints.txt . \
 && /opt/newswatch/bin/python -m pip uninstall -y -q pip setuptools

FROM docker.io/library/debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* \
 && useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin newswatch \
 && mkdir -p /data \
 && chown newswatch:newswatch /data
COPY --from=build /opt/newswatch /opt/newswatch
COPY config /config
ENV PATH=/opt/newswatch/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    NEWSWATCH_CONFIG_DIR=/config \
    NEWSWATCH_DATABASE_URL=sqlite:////data/newswatch.db \
    NEWSWATCH_HTTP_HOST=0.0.0.0 \
    NEWSWATCH_WEB=auto \
    NEWSWATCH_HTTP_PORT=8080
# Numeric, so that Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('NEWSWATCH_HTTP_PORT', '8080'), timeout=4)"]
ENTRYPOINT ["newswatch"]
CMD ["run"]

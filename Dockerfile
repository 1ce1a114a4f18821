# Support Bridge: the server as a container image.
#   docker build -t support-bridge .
#   docker run -p 3978:3978 --env-file .env support-bridge
# Two stages: the first builds the wheel from the sources, the second installs only the
# wheel (and its dependencies) into a slim image that runs as a non-root user.
# tests/test_wheel.py repeats these steps in a clean virtualenv where Docker is absent:
# it copies what the COPY lines of the build stage name, so keep them one path per line.

FROM python:3.11-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir --upgrade pip
COPY pyproject.toml README.md app.py ./
COPY bot ./bot
COPY cards ./cards
COPY dialogs ./dialogs
COPY store ./store
COPY web ./web
RUN pip wheel --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PORT=3978 \
    DATABASE_URL=sqlite+aiosqlite:////var/lib/support-bridge/bridge.db \
    LOG_FORMAT=json
RUN useradd --system --uid 10001 --home-dir /var/lib/support-bridge --create-home bridge
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER bridge
WORKDIR /var/lib/support-bridge
# The SQLite default lives here; mount a volume to keep it (PostgreSQL needs none).
VOLUME ["/var/lib/support-bridge"]
EXPOSE 3978
# Liveness only (the process answers); orchestrators route traffic by /readyz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3978'), timeout=4)"]
CMD ["support-bridge", "run"]

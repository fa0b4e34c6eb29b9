# ccbot: the Telegram bot. Offline providers unless API keys are given.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    CCBOT_DATA_DIR=/data \
    CCBOT_WORKFLOWS_DIR=/app/workflows

WORKDIR /app
COPY pyproject.toml README.md ./
COPY engine ./engine
COPY bot ./bot
COPY workflows ./workflows
# ffmpeg comes from the imageio-ffmpeg wheel and the caption font ships with
# the package, so the slim image needs no system packages.
RUN pip install . && ccbot --help >/dev/null && ccbot validate /app/workflows/cc

RUN useradd --create-home --uid 10001 ccbot && mkdir -p /data && chown ccbot /data
USER ccbot
VOLUME ["/data"]
WORKDIR /data
CMD ["ccbot", "run"]

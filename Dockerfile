# One image for the producer, the sync baseline, the Celery workers and the load generator:
# the command picks the service (`burstlab producer`, `burstlab baseline`, `burstlab worker`, ...).
# The base is an argument: a registry mirror's copy, or the Debian-built stand-in of
# `burstlab compose base-images` where no registry can be reached (docs/compose.md).
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm
FROM ${PYTHON_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 burstlab \
    && useradd --system --uid 10001 --gid burstlab --create-home --home-dir /home/burstlab burstlab

WORKDIR /app
COPY pyproject.toml README.md ./
COPY requirements/runtime.txt ./requirements/
# The locked versions first, checked against their hashes (a layer that changes with the lock only).
RUN pip install --require-hashes -r requirements/runtime.txt
COPY burstlab ./burstlab
COPY producer ./producer
COPY workers ./workers
COPY sync_baseline ./sync_baseline
COPY monitoring ./monitoring
RUN pip install --no-build-isolation --no-deps . \
    && mkdir -p /app/results \
    && chown burstlab:burstlab /app/results

USER burstlab
ENTRYPOINT ["burstlab"]
CMD ["--help"]

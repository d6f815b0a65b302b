# One image that serves the explorable:
#   docker build -t boundary-tilting .
#   docker run -p 8000:8000 boundary-tilting
# MNIST: put the four IDX .gz files in docker/mnist/ (ignored by git) to build
# without network; otherwise they are downloaded during the build.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    NUMBA_CACHE_DIR=/tmp/numba-cache

RUN useradd --create-home --uid 10001 tilting
WORKDIR /app

# Dependencies in their own layer: rebuilt only when pyproject.toml changes.
COPY pyproject.toml docker/install-deps.py ./
RUN python install-deps.py && rm install-deps.py

COPY README.md ./
COPY precompute precompute
COPY backend backend
COPY frontend frontend
COPY docker docker
RUN pip install --no-deps -e . \
 && sh docker/build-bundle.sh /app/artifacts \
 && rm -rf docker/mnist \
 && chown -R tilting /app/artifacts

USER tilting
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"
CMD ["tilting", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2", "--artifacts", "/app/artifacts"]

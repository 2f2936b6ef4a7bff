# GPU image: CUDA runtime, the CUDA build of torch, models from /models, health on /readyz.
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04

ENV DEBIAN_FRONTEND=noninteractive PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
# Versions are not pinned on purpose: the base image is pinned by its tag, and Ubuntu keeps only the newest build of a
# package in its archive, so a pinned version stops installing at the next security update.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 app
WORKDIR /app
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# PyPI's torch 2.13.0 for Linux is the CUDA build.
RUN pip install torch==2.13.0
COPY pyproject.toml README.md ./
COPY service ./service
COPY models/manifest.json ./models/manifest.json
COPY seeds ./seeds
RUN pip install .

ENV SUMMARIZER_HOST=0.0.0.0 \
    SUMMARIZER_PORT=8000 \
    SUMMARIZER_MODELS_DIR=/models \
    SUMMARIZER_DEVICE=auto \
    HF_HOME=/models/.hf-cache
RUN mkdir -p /models && chown 10001:10001 /models
USER 10001
VOLUME ["/models"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=300s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"]
CMD ["python", "-m", "service", "serve"]

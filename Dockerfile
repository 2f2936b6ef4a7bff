# GPU image: CUDA runtime, the CUDA build of torch, models from /models, health on /readyz.
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04

ENV DEBIAN_FRONTEND=noninteractive PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv curl \
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
RUN mkdir -p /models && chown app:app /models
USER app
VOLUME ["/models"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=300s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8000/readyz || exit 1
CMD ["python", "-m", "service", "serve"]

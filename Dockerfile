# GPU image: CUDA runtime, the CUDA build of torch, models from /models, health on /readyz.
#   docker build -t hindi-news . && docker run --gpus all -p 8000:8000 -v "$PWD/models:/models" hindi-news
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
# Dependencies before the code, so that a change to the code reinstalls none of them: torch alone (PyPI's torch 2.13.0
# for Linux is the CUDA build, gigabytes) so that editing another pin keeps it, then the rest of pyproject.toml's list.
RUN pip install torch==2.13.0
COPY pyproject.toml ./
RUN python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" \
      > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt
COPY README.md ./
COPY service ./service
COPY models/manifest.json ./models/manifest.json
COPY seeds ./seeds
RUN pip install --no-deps .

ENV SUMMARIZER_HOST=0.0.0.0 \
    SUMMARIZER_PORT=8000 \
    SUMMARIZER_MODELS_DIR=/models \
    SUMMARIZER_DEVICE=auto \
    HF_HOME=/models/.hf-cache
RUN mkdir -p /models && chown 10001:10001 /models
# /models is usually a host folder mounted over this one, and the service writes there (the first start's download,
# the CTranslate2 copies, the translation memory, the job store): the entry point warns when uid 10001 cannot.
COPY deploy/docker/entrypoint.sh /usr/local/bin/entrypoint.sh
USER 10001
VOLUME ["/models"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=300s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"]
ENTRYPOINT ["/bin/sh", "/usr/local/bin/entrypoint.sh"]
CMD ["python", "-m", "service", "serve"]

# inhouse: the web app, CLI and (with EXTRAS including "gpu") the in-process vLLM engine.
#
#   docker build -t inhouse:gpu --build-arg EXTRAS=gpu,postgres .     # for an NVIDIA GPU host
#   docker build -t inhouse:cpu --build-arg EXTRAS=postgres .         # llama.cpp on the CPU
#
# No CUDA base image is needed: torch and vLLM wheels carry the CUDA user-space
# libraries, and the NVIDIA container runtime brings the driver from the host.
# Models are not baked in: mount a folder at /models (INHOUSE_MODELS_DIR).

ARG PYTHON_VERSION=3.12

FROM python:${PYTHON_VERSION}-slim-bookworm AS build
ARG EXTRAS=gpu,postgres
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake git \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
COPY ingest ./ingest
COPY retrieval ./retrieval
COPY inference ./inference
COPY web ./web
COPY eval ./eval
# llama-cpp-python compiles here (a few minutes), so the runtime image needs no compiler.
# It is built for a fixed CPU level (as `make` does), never for the build host's CPU:
# an image runs on other hosts, and a native build crashed on an AVX-512/AMX Xeon.
ARG TARGETARCH
RUN case "${TARGETARCH:-$(uname -m)}" in \
      arm64|aarch64) LLAMA="-DGGML_NATIVE=OFF -DGGML_CPU_ARM_ARCH=armv8-a" ;; \
      *) LLAMA="-DGGML_NATIVE=OFF -DGGML_SSE42=ON -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX512=OFF -DGGML_AVX_VNNI=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF" ;; \
    esac \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --upgrade pip \
 && CMAKE_ARGS="$LLAMA -DLLAVA_BUILD=OFF" /opt/venv/bin/pip install --no-cache-dir ".[${EXTRAS}]"

FROM python:${PYTHON_VERSION}-slim-bookworm
# libmagic: file sniffing; tesseract + poppler: scanned PDFs; libgomp: llama.cpp's threads
RUN apt-get update \
 && apt-get install -y --no-install-recommends libmagic1 tesseract-ocr poppler-utils libgomp1 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 1000 inhouse \
 && mkdir -p /data /models && chown inhouse:inhouse /data
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    INHOUSE_DATA_DIR=/data \
    INHOUSE_MODELS_DIR=/models \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    DO_NOT_TRACK=1 \
    VLLM_NO_USAGE_STATS=1
USER inhouse
WORKDIR /home/inhouse
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=10s --start-period=300s --retries=5 \
  CMD python -c "import json,sys,urllib.request; sys.exit(0 if json.load(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=5)).get('status') == 'ok' else 1)"
CMD ["inhouse", "serve", "--host", "0.0.0.0", "--port", "8000"]

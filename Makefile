# Two commands on a fresh machine:  `make run`  and  `make test`.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
ARCH    := $(shell uname -m)
# torch/torchvision pairs that install offline here (see ../shared/MODELS.md)
ifeq ($(ARCH),aarch64)
TORCH   := torch==2.9.1 torchvision==0.24.1
else
TORCH   := torch==2.14.1 torchvision==0.29.1
endif
# llama.cpp (the CPU generator) is compiled from source by llama-cpp-python. It is built
# for a fixed CPU level, never for whatever CPU the build machine has: a native build
# on a Xeon with AVX-512-FP16/AMX segfaulted in every generation (README, "CPU generator").
# x86-64-v3 (AVX2, FMA, F16C, BMI2) runs on every x86-64 CPU since 2013-2015; a CPU without
# AVX2 gets the SSE4.2 level. aarch64 gets plain ARMv8-A. Override with LLAMA_CPU=...
LLAMA_CPP_VERSION := 0.3.36
ifeq ($(ARCH),aarch64)
LLAMA_CPU ?= armv8-a
else
LLAMA_CPU ?= $(shell grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo && grep -qw f16c /proc/cpuinfo && echo x86-64-v3 || echo x86-64-v2)
endif
LLAMA_OFF_X86     := -DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=OFF -DGGML_AVX512_BF16=OFF -DGGML_AVX_VNNI=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
LLAMA_CMAKE_x86-64-v3 := -DGGML_NATIVE=OFF -DGGML_SSE42=ON -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON $(LLAMA_OFF_X86)
LLAMA_CMAKE_x86-64-v2 := -DGGML_NATIVE=OFF -DGGML_SSE42=ON -DGGML_AVX=OFF -DGGML_AVX2=OFF -DGGML_FMA=OFF -DGGML_F16C=OFF -DGGML_BMI2=OFF $(LLAMA_OFF_X86)
LLAMA_CMAKE_armv8-a   := -DGGML_NATIVE=OFF -DGGML_CPU_ARM_ARCH=armv8-a
# only for bench/cpu_generate.py's comparison, never installed by set-up: the build machine's
# own CPU, and AVX-512 without AMX (where the native build crashes)
LLAMA_CMAKE_native    := -DGGML_NATIVE=ON
LLAMA_CMAKE_x86-64-v4 := -DGGML_NATIVE=OFF -DGGML_SSE42=ON -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX512=ON -DGGML_AVX512_VBMI=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
LLAMA_CMAKE_COMMON    := -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF
# Kept outside the checkout, so a second clone on the same machine (CI's clean clone) does not
# compile it again: keyed by llama-cpp-python version, Python version and CPU level.
PYTAG             := $(shell $(PY) -c 'import sys; print("cp%d%d" % sys.version_info[:2])' 2>/dev/null)
WHEEL_CACHE       ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/inhouse/wheels
LLAMA_WHEELS      := $(WHEEL_CACHE)/llama-cpp-python-$(LLAMA_CPP_VERSION)-$(PYTAG)
export DO_NOT_TRACK := 1
export UNSTRUCTURED_DISABLE_NOTICE := 1
export HF_HUB_OFFLINE := 1

.PHONY: run test setup system-deps venv llama-wheel llama-reinstall models doctor demo serve bench bench-cpu-generate clean

run: setup demo serve

# One pytest worker per core, at most four (each loads its own models: about 3 GB).
TEST_JOBS ?= $(shell n=$$(nproc); [ $$n -gt 4 ] && n=4; echo $$n)

test: setup
	$(BIN)/pytest -q -n $(TEST_JOBS) --dist worksteal

setup: system-deps venv models doctor

system-deps:
	@missing=""; \
	command -v tesseract >/dev/null || missing="$$missing tesseract-ocr"; \
	command -v pdftoppm  >/dev/null || missing="$$missing poppler-utils"; \
	command -v chromium  >/dev/null || missing="$$missing chromium"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	[ -e /usr/lib/x86_64-linux-gnu/libmagic.so.1 ] || [ -e /usr/lib/aarch64-linux-gnu/libmagic.so.1 ] || missing="$$missing libmagic1"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH)
	$(MAKE) --no-print-directory llama-wheel LLAMA_CPU=$(LLAMA_CPU)
	$(BIN)/pip install -q --force-reinstall --no-deps $(LLAMA_WHEELS)/$(LLAMA_CPU)/*.whl
	$(BIN)/pip install -q -e '.[test,postgres]'
	touch $@

# Put another CPU level's build in place (what `inhouse doctor` suggests after a crash).
llama-reinstall: llama-wheel
	$(BIN)/pip install -q --force-reinstall --no-deps $(LLAMA_WHEELS)/$(LLAMA_CPU)/*.whl

# The llama-cpp-python wheel for one CPU level, built once per machine and kept in $(WHEEL_CACHE).
llama-wheel: $(LLAMA_WHEELS)/$(LLAMA_CPU)/.built

$(LLAMA_WHEELS)/%/.built:
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	rm -rf $(LLAMA_WHEELS)/$* && mkdir -p $(LLAMA_WHEELS)/$*
	@echo "building llama-cpp-python $(LLAMA_CPP_VERSION) for $* (a few minutes)"
	CMAKE_ARGS="$(LLAMA_CMAKE_$*) $(LLAMA_CMAKE_COMMON)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
	  $(BIN)/pip wheel -q --no-deps --no-binary llama-cpp-python --no-cache-dir \
	  -w $(LLAMA_WHEELS)/$* llama-cpp-python==$(LLAMA_CPP_VERSION)
	touch $@

models: venv
	$(BIN)/inhouse models fetch

# Load every default model in a child process and run it once; stops set-up with the
# model's name and the fix when one fails or crashes.
doctor: venv models
	$(BIN)/inhouse doctor

demo: venv
	$(BIN)/inhouse import-manifest samples/manifest.json --demo-logins

serve: venv
	$(BIN)/inhouse serve --host 127.0.0.1 --port 8000

bench: setup
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python bench/ingest.py --docs 1000 --baseline-docs 150
	$(BIN)/python bench/ocr.py
	$(BIN)/python bench/search.py
	$(MAKE) --no-print-directory bench-cpu-generate

# Decode speed of the portable llama.cpp build against a native one, and the cost of
# running the generator in a child process; both in one run (README, Performance).
bench-cpu-generate: setup
	$(MAKE) --no-print-directory llama-wheel LLAMA_CPU=native
	$(BIN)/python bench/cpu_generate.py --native-wheel $(LLAMA_WHEELS)/native

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .cache/wheels

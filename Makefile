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
export DO_NOT_TRACK := 1
export UNSTRUCTURED_DISABLE_NOTICE := 1
export HF_HUB_OFFLINE := 1

.PHONY: run test setup system-deps venv models demo serve bench clean

run: setup demo serve

test: setup
	$(BIN)/pytest -q

setup: system-deps venv models

system-deps:
	@missing=""; \
	command -v tesseract >/dev/null || missing="$$missing tesseract-ocr"; \
	command -v pdftoppm  >/dev/null || missing="$$missing poppler-utils"; \
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
	$(BIN)/pip install -q -e '.[test,postgres]'
	touch $@

models: venv
	$(BIN)/inhouse models fetch

demo: venv
	$(BIN)/inhouse import-manifest samples/manifest.json

serve: venv
	$(BIN)/inhouse serve --host 127.0.0.1 --port 8000

bench: setup
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python bench/ingest.py --docs 1000 --baseline-docs 150
	$(BIN)/python bench/ocr.py
	$(BIN)/python bench/search.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis

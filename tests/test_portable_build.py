"""llama.cpp is built for a fixed, portable CPU level, never for the machine that builds it.

A native build on one CPU (AVX-512-FP16, AMX) crashed every generation; a green CI on
another CPU had hidden it. These tests read what set-up installs and how it builds.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def make_variable(name: str) -> str:
    text = (REPO / "Makefile").read_text()
    match = re.search(rf"^{re.escape(name)}\s*:=\s*(.*)$", text, re.M)
    assert match, name
    return match.group(1)


def test_every_level_set_up_installs_is_a_fixed_one_without_avx512_or_amx():
    off = make_variable("LLAMA_OFF_X86")
    for level in ("x86-64-v3", "x86-64-v2"):
        flags = make_variable(f"LLAMA_CMAKE_{level}")
        assert "-DGGML_NATIVE=OFF" in flags and "$(LLAMA_OFF_X86)" in flags
    for feature in ("AVX512", "AMX_TILE", "AMX_INT8", "AMX_BF16", "AVX_VNNI"):
        assert f"-DGGML_{feature}=OFF" in off
    assert "-DGGML_NATIVE=OFF" in make_variable("LLAMA_CMAKE_armv8-a")
    # the only native build is the benchmark's, never installed by `make setup`
    installed_by = (REPO / "Makefile").read_text().split("$(VENV)/.installed:")[1].split("\n\n")[0]
    assert "LLAMA_CPU=$(LLAMA_CPU)" in installed_by and "native" not in installed_by


def test_the_docker_image_builds_the_same_portable_level():
    dockerfile = (REPO / "Dockerfile").read_text()
    assert dockerfile.count("-DGGML_NATIVE=OFF") == 2 and "-DGGML_AMX_INT8=OFF" in dockerfile


def test_the_installed_llama_cpp_uses_no_instruction_beyond_its_level():
    """What the build in this venv was compiled with (llama.cpp reports it)."""
    info = subprocess.run(
        [sys.executable, "-c", "import llama_cpp; print(llama_cpp.llama_print_system_info().decode())"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout
    enabled = {f.split(" =")[0].strip() for f in info.split("|") if f.strip().endswith("= 1")}
    assert not {f for f in enabled if f.startswith(("AVX512", "AMX", "AVX_VNNI"))}, info

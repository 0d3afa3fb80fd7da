#!/usr/bin/env bash
# Stop a server serve.sh started: scripts/vllm/stop.sh PORT (or SPECTUI_VLLM_PID=FILE stop.sh).
#
# Sends SIGTERM to the server's process group, waits up to 20 s, then SIGKILL.
set -euo pipefail

port="${1:-}"
run_dir="${SPECTUI_VLLM_RUN_DIR:-${TMPDIR:-/tmp}/spectui-vllm}"
pid_file="${SPECTUI_VLLM_PID:-$run_dir/$port.pid}"

if [[ -z "$port" && -z "${SPECTUI_VLLM_PID:-}" ]]; then
    echo "usage: scripts/vllm/stop.sh PORT" >&2
    exit 2
fi
if [[ ! -f "$pid_file" ]]; then
    echo "no pid file $pid_file: nothing to stop"
    exit 0
fi
pid="$(cat "$pid_file")"
# serve.sh starts the server with setsid, so its pid is its process group: this also ends
# the engine-core worker it forks.
kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
for _ in $(seq 1 40); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
done
if kill -0 "$pid" 2>/dev/null; then
    echo "the server (pid $pid) ignored SIGTERM for 20 s; killing it"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
fi
rm -f "$pid_file"
echo "stopped the vLLM server (pid $pid)"

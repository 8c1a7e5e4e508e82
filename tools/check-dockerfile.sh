#!/usr/bin/env bash
# Checks the Dockerfile: builds the image where a Docker daemon answers; elsewhere runs the same
# steps on this machine: the build stage (prebuilt binary, npm pack) in a scratch copy, the
# runtime stage's install with compilers shadowed by failing stand-ins, then serves the packaged
# default model, waits for readiness, completes a prompt and drains on SIGTERM.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  docker build -t attnode-check "$root"
  exit 0
fi
echo "check-dockerfile: no Docker daemon; running the Dockerfile's steps on this machine"

scratch="$(mktemp -d -t attnode-docker-XXXXXX)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$scratch"
}
trap cleanup EXIT

# Build stage: the Dockerfile copies the sources (less .dockerignore) and builds there.
mkdir -p "$scratch/src" "$scratch/out"
(cd "$root" && git ls-files -z --cached --others --exclude-standard | xargs -0 -I{} cp --parents {} "$scratch/src")
cd "$scratch/src"
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
npm run build:ts >/dev/null
# The headers of the node that runs this (no download): a Node-API binary fits every later version.
npm_config_nodedir="$(dirname "$(dirname "$(command -v node)")")" node tools/prebuild.mjs -t "$(node -p process.versions.node)" >/dev/null
npm pack --pack-destination "$scratch/out" --loglevel=error >/dev/null

# Runtime stage: no compiler may be used; these stand-ins fail loudly if one is called.
mkdir -p "$scratch/bin" "$scratch/app"
for tool in cc gcc g++ c++ make cmake python3; do
  printf '#!/bin/sh\necho "the runtime install tried to build: %s $*" >&2\nexit 1\n' "$tool" > "$scratch/bin/$tool"
  chmod +x "$scratch/bin/$tool"
done
cd "$scratch/app"
echo '{"name":"attnode-server","private":true}' > package.json
PATH="$scratch/bin:$PATH" NODE_ENV=production npm install --omit=dev --no-audit --no-fund --loglevel=error "$scratch"/out/attnode-*.tgz
PATH="$scratch/bin:$PATH" node -e "import('attnode').then(() => console.log('attnode loads'))"

# The entrypoint, on a free port, then a readiness probe, a completion and a drain.
port="$(node -e "const s=require('net').createServer().listen(0,()=>{console.log(s.address().port);s.close()})")"
node node_modules/attnode/dist/cli.js serve --host 127.0.0.1 --port "$port" --workers 1 --threads-per-worker 1 2> "$scratch/serve.log" &
server_pid=$!
for _ in $(seq 1 120); do
  if curl -fsS "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1; then break; fi
  sleep 0.5
done
curl -fsS "http://127.0.0.1:$port/health/ready"
echo
curl -fsS "http://127.0.0.1:$port/v1/completions" -H 'content-type: application/json' -d '{"prompt":"The cat","max_tokens":8,"seed":1}'
echo
kill -TERM "$server_pid"
wait "$server_pid"
server_pid=""
cat "$scratch/serve.log"
echo "check-dockerfile: ok"

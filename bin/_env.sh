# Shared by bin/serve and bin/test: make the virtual environment match requirements.txt, and make
# sure a Redis broker answers. Sourced, not executed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"

ensure_venv() {
  local want stamp="$VENV/.requirements.sha256"
  want="$(sha256sum requirements.txt | cut -d' ' -f1)"
  if [ ! -x "$PY" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "==> installing Python packages into $VENV (first run takes a few minutes)"
    python3 -m venv "$VENV"
    "$PY" -m pip install --quiet --upgrade pip
    # (this machine's pip configuration names local package folders that may be absent: hide that noise)
    "$PY" -m pip install --quiet -r requirements.txt 2> >(grep -v 'is ignored: it is neither' >&2)
    echo "$want" >"$stamp"
  fi
}

# The Plotly bundle the pages load, fetched once by bin/fetch-plotly (npm, pinned) into var/vendor/plotly;
# without npm the pages fall back to the full bundle inside the Python plotly package (webapp/settings.py).
ensure_plotly() {
  local dir="$ROOT/var/vendor/plotly" want
  want="$(sha256sum bin/fetch-plotly | cut -d' ' -f1)"
  [ -f "$dir/plotly.min.js" ] && [ "$(cat "$dir.fetched-by" 2>/dev/null)" = "$want" ] && return
  if bin/fetch-plotly "$dir"; then
    echo "$want" >"$dir.fetched-by"
    echo "==> Plotly: the cartesian bundle (npm plotly.js-cartesian-dist-min) in var/vendor/plotly"
  else
    rm -f "$dir/plotly.min.js"
    echo "==> Plotly: could not fetch the small bundle with npm (see above); the pages use the full 4.8 MB bundle" \
         "from the Python plotly package: first visits are slower. Install npm and run again to fix."
  fi
}

redis_url() { echo "${REDIS_URL:-redis://127.0.0.1:6379/0}"; }

# Start a local Redis when none answers on the default address; say which broker is used.
ensure_redis() {
  if [ -n "${REDIS_URL:-}" ]; then echo "==> broker: $REDIS_URL (from REDIS_URL)"; return; fi
  if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    if ! command -v redis-server >/dev/null; then
      echo "==> installing redis-server"
      apt-get update -qq && apt-get install -y -qq redis-server >/dev/null
    fi
    echo "==> starting a local Redis on 127.0.0.1:6379"
    mkdir -p "$ROOT/var/redis"
    # Append-only file: queued job messages survive a Redis restart.
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly yes \
      --dir "$ROOT/var/redis" --logfile "$ROOT/var/redis/redis.log"
    for _ in $(seq 50); do redis-cli ping >/dev/null 2>&1 && break; sleep 0.1; done
  fi
  echo "==> broker: Redis at $(redis_url)"
}

# nginx in front of gunicorn (bin/serve-web): Debian's package, installed once like Redis.
ensure_nginx() {
  NGINX="$(command -v nginx || echo /usr/sbin/nginx)"  # /usr/sbin is not on every user's PATH
  [ -x "$NGINX" ] && return
  echo "==> installing nginx (the proxy that holds slow clients in front of the web server)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
}

ensure_test_tools() {
  local missing=()
  command -v chromium >/dev/null && command -v chromedriver >/dev/null || missing+=(chromium chromium-driver)
  command -v docker-compose >/dev/null || missing+=(docker-compose)
  [ -x "$(command -v nginx || echo /usr/sbin/nginx)" ] || missing+=(nginx)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "==> installing Debian packages for the tests: ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}


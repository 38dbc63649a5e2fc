#!/usr/bin/env bash
# The compose topology without Docker, on one machine, from Debian's packages (`make cluster`):
# PostgreSQL, Redis with its append-only file, coturn, two videoassist nodes on the leader
# lease (one serves, one stands by) and a media node carrying the calls they place on it, all
# on loopback.
# State is kept in $LOCAL_DIR (var/local by default), so a second run finds the same records.
# Ctrl-C (or SIGTERM) drains the node, then stops the services. Needs `make system-deps`.
set -euo pipefail
cd "$(dirname "$0")/.."

LOCAL_DIR=${LOCAL_DIR:-$PWD/var/local}
PG_PORT=${PG_PORT:-55432}
REDIS_PORT=${REDIS_PORT:-56379}
TURN_PORT=${TURN_PORT:-53478}
NODE_PORT=${NODE_PORT:-8080}
PYTHON=${PYTHON:-.venv/bin/python}

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
for need in "$pg_bin/initdb" "$(command -v redis-server)" "$(command -v turnserver)"; do
    [ -x "$need" ] || { echo "missing PostgreSQL, redis-server or coturn: run make system-deps" >&2; exit 1; }
done
mkdir -p "$LOCAL_DIR"/{pg,redis,node}

# PostgreSQL refuses to run as root: as root it runs as the package's postgres account.
as_pg=()
if [ "$(id -u)" = 0 ]; then
    as_pg=(runuser -u postgres --)
    chown postgres:postgres "$LOCAL_DIR/pg"
fi
pg_user=$([ "$(id -u)" = 0 ] && echo postgres || id -un)
if [ ! -s "$LOCAL_DIR/pg/data/PG_VERSION" ]; then
    "${as_pg[@]}" "$pg_bin/initdb" -D "$LOCAL_DIR/pg/data" -U "$pg_user" --auth=trust \
        --encoding=UTF8 --locale=C >/dev/null
fi
[ -s "$LOCAL_DIR/turn.secret" ] || od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$LOCAL_DIR/turn.secret"
turn_secret=$(cat "$LOCAL_DIR/turn.secret")

pids=()
stop_all() {
    trap - EXIT INT TERM
    # The node first (it drains), then what it uses.
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        kill -TERM "${pids[i]}" 2>/dev/null || true
        wait "${pids[i]}" 2>/dev/null || true
    done
}
trap stop_all EXIT
trap 'stop_all; exit 0' INT TERM

"${as_pg[@]}" "$pg_bin/postgres" -D "$LOCAL_DIR/pg/data" -h 127.0.0.1 -p "$PG_PORT" \
    -k "$LOCAL_DIR/pg" >>"$LOCAL_DIR/pg/server.log" 2>&1 &
pids+=($!)
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$LOCAL_DIR/redis" --save "" \
    --appendonly yes --appendfsync everysec --loglevel warning >>"$LOCAL_DIR/redis/server.log" 2>&1 &
pids+=($!)
turnserver --listening-ip=127.0.0.1 --relay-ip=127.0.0.1 --listening-port="$TURN_PORT" \
    --min-port=49160 --max-port=49259 --use-auth-secret --static-auth-secret="$turn_secret" \
    --realm=localhost --fingerprint --no-cli --no-tls --no-dtls --no-multicast-peers \
    --allow-loopback-peers --log-file=stdout --simple-log >>"$LOCAL_DIR/turn.log" 2>&1 &
pids+=($!)

for _ in $(seq 100); do
    "$pg_bin/pg_isready" -h 127.0.0.1 -p "$PG_PORT" -q && break
    sleep 0.1
done
"$pg_bin/pg_isready" -h 127.0.0.1 -p "$PG_PORT" -q || { echo "PostgreSQL did not start: $LOCAL_DIR/pg/server.log" >&2; exit 1; }
"$pg_bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U "$pg_user" -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'videoassist'" | grep -q 1 \
    || "$pg_bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U "$pg_user" videoassist

[ -s "$LOCAL_DIR/secret.key" ] || od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$LOCAL_DIR/secret.key"

# Two nodes that both serve (DESK_REPLICAS), each on its own port: the first leads on the lease,
# the second follows a replica of its desk and takes the lead within LEADER_LEASE_TTL of the
# first one's death.
node() {
    VIDEOASSIST_PORT=$1 \
    VIDEOASSIST_NODE_ID=$2 \
    VIDEOASSIST_NODE_ROLE=${3:-all} \
    VIDEOASSIST_MEDIA_PLACEMENT=true \
    VIDEOASSIST_DATA_DIR="$LOCAL_DIR/node" \
    VIDEOASSIST_SECRET_KEY="$(cat "$LOCAL_DIR/secret.key")" \
    VIDEOASSIST_DATABASE_URL="postgresql+asyncpg://$pg_user@127.0.0.1:$PG_PORT/videoassist" \
    VIDEOASSIST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0" \
    VIDEOASSIST_LEADER_LEASE=$([ "${3:-all}" = media ] && echo false || echo true) \
    VIDEOASSIST_DESK_REPLICAS=$([ "${3:-all}" = media ] && echo false || echo true) \
    VIDEOASSIST_TURN_URLS="turn:127.0.0.1:$TURN_PORT?transport=udp" \
    VIDEOASSIST_TURN_SECRET="$turn_secret" \
        "$PYTHON" -m videoassist serve &
    pids+=($!)
}
node "$NODE_PORT" local-a
"$PYTHON" - "$NODE_PORT" <<'WAIT'
import sys, time, urllib.request
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/healthz", timeout=1)
        sys.exit(0)
    except OSError:
        time.sleep(0.2)
sys.exit("the first node did not come up")
WAIT
first=${pids[-1]}
# A media node (health checks only on its port): the leader places calls on it or on itself.
node "$((NODE_PORT + 2))" local-m media
node "$((NODE_PORT + 1))" local-b
echo "${pids[@]}" >"$LOCAL_DIR/pids"  # what this run started, for whoever checks it stopped
echo "PostgreSQL 127.0.0.1:$PG_PORT, Redis 127.0.0.1:$REDIS_PORT, TURN 127.0.0.1:$TURN_PORT"
echo "serving on http://localhost:$NODE_PORT (the leader) and http://localhost:$((NODE_PORT + 1))"
echo "media node local-m (health: http://localhost:$((NODE_PORT + 2))/healthz)"
wait -n "$first" "${pids[-1]}" || true
# One node is gone: the other may be serving now. Keep going until it ends too.
wait

#!/usr/bin/env bash
# Builds the scoreboard image from the project's Dockerfile, unchanged, with podman, runs it as the
# README's `docker run` does (embedded PostgreSQL in a named volume on /app/data), and checks it for
# real with curl. One PASS/FAIL line per check; exit 1 when any check fails.
#
#   sudo bash deploy/podman/check.sh          # from anywhere; needs root, podman, runc, curl, jq
#
# Environment: PORT (default: the first free port from 18437 up; never 8000/8080), IMAGE
# (scoreboard:latest), SKIP_BUILD=1 (use the image as it is), BUILD_CA (default: the host's CA
# bundle when /usr/local/share/ca-certificates holds a CA; empty: none — see build-runtime.sh).
#
# What podman needs on this machine, and nothing else, differs from the README's commands:
# - deploy/podman/containers.conf (CONTAINERS_CONF): runc, cgroupfs, no default ulimits;
# - BUILDAH_FORMAT=docker: podman builds OCI images by default, and the OCI image format has no
#   HEALTHCHECK (podman drops it with a warning); Docker's format keeps it, as `docker build` does;
# - the build's RUN steps trust this machine's TLS-intercepting egress CA (build-runtime.sh);
# - --network=host with PORT instead of -p 8000:8000 (port 8000 is taken here);
# - --ulimit nofile=<this machine's hard limit, 20000> instead of 65536 (above the hard limit:
#   runc is refused), and --ulimit nproc=16384: podman 4.3 adds RLIMIT_NPROC=1048576 as soon as
#   any --ulimit is given, which this machine refuses as well.
set -euo pipefail

# shellcheck source=deploy/podman/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

IMAGE=${IMAGE:-scoreboard:latest}
NAME=scoreboard-check-$$
VOLUME=scoreboard-check-data-$$
work=$(mktemp -d /tmp/scoreboard-check.XXXXXX)
LOG=$work/podman.log

say() { printf '[check %(%H:%M:%S)T] %s\n' -1 "$*"; }
jqe() { jq -e "$@" >/dev/null; }

cleanup() {
  local rc=$?
  [[ -n ${sse_pid:-} ]] && kill "$sse_pid" 2>/dev/null || true
  pm rm -f -t 0 "$NAME" >>"$LOG" 2>&1 || true
  pm volume rm -f "$VOLUME" >>"$LOG" 2>&1 || true
  if ((failures > 0)) || ((rc != 0)); then
    echo "--- podman log ($LOG) ---"
    tail -n 40 "$LOG" || true
    echo "--- container log (last 40 lines) ---"
    tail -n 40 "$work/container.log" 2>/dev/null || true
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

for tool in podman curl jq ss; do
  command -v "$tool" >/dev/null || {
    echo "check.sh: $tool is missing" >&2
    exit 69
  }
done

if [[ -z ${PORT:-} ]]; then
  PORT=18437
  while ss -Hltn "sport = :$PORT" | grep -q .; do PORT=$((PORT + 1)); done
fi
case $PORT in 8000 | 8080 | 5432 | 6379)
  echo "check.sh: PORT $PORT is reserved here" >&2
  exit 64
  ;;
esac
BASE=http://127.0.0.1:$PORT

# --- 1. the stand-in base image ------------------------------------------------------------------
t=$(now)
say "stand-in images (deploy/podman/standins.sh)"
bash "$here/standins.sh"
say "stand-ins ready in $(since "$t") s"
DENO_IMAGE=docker.io/denoland/deno:debian-2.9.6
check "stand-in: deno --version through the entrypoint is 2.9.6" \
  bash -c "podman --runtime /usr/sbin/runc run --rm $DENO_IMAGE --version 2>>'$LOG' | head -n1 | grep -q '^deno 2.9.6 '"
check "stand-in: a non-deno command is exec'd as it is (id -u → 0 as root; user deno is 1993:1993)" \
  bash -c "[[ \$(podman --runtime /usr/sbin/runc run --rm $DENO_IMAGE id -u 2>>'$LOG') == 0 && \$(podman --runtime /usr/sbin/runc run --rm $DENO_IMAGE sh -c 'echo \$(id -u deno):\$(id -g deno):\$DENO_DIR:\$(stat -c %u /deno-dir)' 2>>'$LOG') == 1993:1993:/deno-dir/:1993 ]]"
check "stand-in: ENTRYPOINT is /tini -- docker-entrypoint.sh" \
  bash -c "[[ \$(podman image inspect $DENO_IMAGE --format '{{json .Config.Entrypoint}}') == '[\"/tini\",\"--\",\"docker-entrypoint.sh\"]' ]]"

# --- 2. the project image, from the unchanged Dockerfile -------------------------------------------
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
  t=$(now)
  say "podman build -t $IMAGE . (in $repo; log: $work/build.log)"
  if build_image "$IMAGE" "$work/build.log"; then
    pass "build: podman build -t $IMAGE . of the unchanged Dockerfile ($(since "$t") s)"
  else
    fail "build: podman build -t $IMAGE . ($(since "$t") s)"
    tail -n 30 "$work/build.log"
    exit 1
  fi
  if grep -qi 'HEALTHCHECK is not supported' "$work/build.log"; then
    fail "build: podman dropped the HEALTHCHECK (OCI format)"
  fi
fi
check "image: USER deno, HEALTHCHECK kept, VOLUME /app/data, CMD has --cached-only" \
  bash -c "podman image inspect $IMAGE | jq -e '.[0] | .Config.User == \"deno\" and (.Healthcheck.Test | length > 1)
      and (.Config.Volumes | has(\"/app/data\")) and (.Config.Cmd | index(\"--cached-only\") != null)
      and .Config.Entrypoint == [\"/tini\",\"--\",\"docker-entrypoint.sh\"]' >/dev/null"

# --- 3. run it --------------------------------------------------------------------------------------
nofile=$(ulimit -Hn)
[[ $nofile == unlimited || $nofile -gt 65536 ]] && nofile=65536
run_cmd=(pm run -d --name "$NAME" --network=host -e PORT="$PORT"
  --ulimit "nofile=$nofile:$nofile" --ulimit nproc=16384:16384
  -v "$VOLUME:/app/data" --stop-timeout 30 "$IMAGE")
say "podman run -d --name $NAME --network=host -e PORT=$PORT --ulimit nofile=$nofile:$nofile --ulimit nproc=16384:16384 -v $VOLUME:/app/data --stop-timeout 30 $IMAGE"

wait_ready() { # seconds
  local i
  for ((i = 0; i < $1; i++)); do
    if curl -sf -o /dev/null --max-time 2 "$BASE/readyz"; then return 0; fi
    if [[ $(pm inspect "$NAME" --format '{{.State.Running}}' 2>>"$LOG") != true ]]; then return 1; fi
    sleep 1
  done
  return 1
}

t=$(now)
if "${run_cmd[@]}" >>"$LOG" 2>&1 && wait_ready 120; then
  pass "start: first start (initdb of the embedded PostgreSQL, migrations) ready on :$PORT in $(since "$t") s"
else
  pm logs "$NAME" >"$work/container.log" 2>&1 || true
  fail "start: not ready on :$PORT after $(since "$t") s"
  exit 1
fi

readyz=$(curl -s "$BASE/readyz" || true)
check "embedded: /readyz is ok, postgres ok, single-instance, no Redis ($readyz)" \
  jqe '.status == "ok" and .postgres == "ok" and .mode == "single-instance" and .redis == "none"' <<<"$readyz"
check "embedded: the cluster is in the named volume ($VOLUME → /app/data/postgres)" \
  bash -c "podman --runtime /usr/sbin/runc exec $NAME test -s /app/data/postgres/PG_VERSION 2>>'$LOG' &&
    [[ \$(podman inspect $NAME --format '{{range .Mounts}}{{if eq .Destination \"/app/data\"}}{{.Name}}{{end}}{{end}}') == $VOLUME ]]"

top=$(pm top "$NAME" huser pid ppid comm 2>>"$LOG" || true)
check "user: every process runs as uid 1993, none as root ($(awk 'NR>1 {print $4"="$1}' <<<"$top" | sort | uniq -c | xargs))" \
  bash -c "awk 'NR>1' <<<'$top' | grep -q . && ! awk 'NR>1 && \$1 != 1993' <<<'$top' | grep -q ."
check "signals: PID 1 is tini, deno its child" \
  bash -c "awk 'NR>1 && \$2 == 1 && \$4 == \"tini\"' <<<'$top' | grep -q . && awk 'NR>1 && \$3 == 1 && \$4 == \"deno\"' <<<'$top' | grep -q ."
check "cached-only: the running deno's command line has --cached-only and --node-modules-dir=manual" \
  bash -c "pid=\$(podman inspect $NAME --format '{{.State.Pid}}') && child=\$(pgrep -P \$pid | head -n1) &&
    tr '\0' ' ' </proc/\$child/cmdline | grep -q -- '--cached-only' && tr '\0' ' ' </proc/\$child/cmdline | grep -q -- '--node-modules-dir=manual'"

# --- 4. a journey ----------------------------------------------------------------------------------
user=podman$$
email=$user@example.com
password='correct horse battery staple'
code=$(curl -s -o "$work/register.json" -w '%{http_code}' -X POST "$BASE/auth/register" \
  -H 'content-type: application/json' \
  -d "{\"username\":\"$user\",\"email\":\"$email\",\"password\":\"$password\"}" || true)
access=$(jq -r '.accessToken // empty' "$work/register.json" 2>/dev/null || true)
account=$(jq -r '.account.id // empty' "$work/register.json" 2>/dev/null || true)
check "journey: POST /auth/register → 201 with a session (account $account)" \
  test "$code" = 201 -a -n "$access"

admin_token=$(pm exec "$NAME" cat /app/data/admin-token 2>>"$LOG" || true)
check "journey: the operator token the instance made is in /app/data/admin-token (${#admin_token} chars)" \
  test "${#admin_token}" -ge 32
code=$(curl -s -o "$work/action.json" -w '%{http_code}' -X POST "$BASE/admin/actions" \
  -H "authorization: Bearer $admin_token" -H 'content-type: application/json' \
  -d '{"slug":"podman-check","label":"Podman check","pointValue":42}' || true)
check "journey: POST /admin/actions with the operator token → 201" test "$code" = 201
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$BASE/admin/actions" \
  -H 'authorization: Bearer not-the-token' -H 'content-type: application/json' \
  -d '{"slug":"podman-check-2","label":"x","pointValue":1}' || true)
check "journey: POST /admin/actions with a wrong token → 403 ($code)" test "$code" = 403
code=$(curl -s -o "$work/complete.json" -w '%{http_code}' -X POST "$BASE/actions/podman-check/complete" \
  -H "authorization: Bearer $access" -H "idempotency-key: check-$$" || true)
check "journey: POST /actions/podman-check/complete → 201, 42 points ($(jq -c '{pointsEarned: .completion.pointsEarned, totalPoints, rank}' "$work/complete.json" 2>/dev/null || true))" \
  jqe '.completion.pointsEarned == 42 and .totalPoints == 42' "$work/complete.json"
board=$(curl -s "$BASE/leaderboard" || true)
check "journey: GET /leaderboard ranks $user with 42 points" \
  jqe --arg u "$user" 'any(.entries[]; .username == $u and .totalPoints == 42)' <<<"$board"
curl -s -N --max-time 3 -D "$work/sse.headers" "$BASE/leaderboard/stream" >"$work/sse.body" 2>/dev/null || true
check "journey: GET /leaderboard/stream → text/event-stream, an event leaderboard with $user" \
  bash -c "grep -qi '^content-type: text/event-stream' '$work/sse.headers' && grep -q '^event: leaderboard' '$work/sse.body' &&
    grep '^data: ' '$work/sse.body' | head -n1 | cut -c7- | jq -e --arg u '$user' 'any(.entries[]; .username == \$u and .totalPoints == 42)' >/dev/null"
code=$(curl -s -o "$work/page.html" -D "$work/page.headers" -w '%{http_code}' "$BASE/" || true)
check "journey: GET / → 200 text/html, the page" \
  bash -c "[[ $code == 200 ]] && grep -qi '^content-type: text/html' '$work/page.headers' && grep -qi '<!doctype html>' '$work/page.html'"

# --- 5. the HEALTHCHECK ----------------------------------------------------------------------------
check "healthcheck: podman healthcheck run → healthy" \
  bash -c "podman --runtime /usr/sbin/runc healthcheck run $NAME >>'$LOG' 2>&1"
mapfile -t hc < <(pm image inspect "$IMAGE" --format '{{json .Config.Healthcheck.Test}}' | jq -r '.[1:][]')
check "healthcheck: the image's HEALTHCHECK command run with podman exec exits 0 (${hc[*]:0:3} …)" \
  bash -c 'podman --runtime /usr/sbin/runc exec "$@" >>'"'$LOG'"' 2>&1' _ "$NAME" "${hc[@]}"

# --- 6. SIGTERM through tini: drain, exit 0 ----------------------------------------------------------
curl -s -N --max-time 40 "$BASE/leaderboard/stream" >"$work/sse-stop.body" 2>/dev/null &
sse_pid=$!
sleep 1
t=$(now)
pm stop -t 20 "$NAME" >>"$LOG" 2>&1 || true
took=$(since "$t")
wait "$sse_pid" 2>/dev/null || true
sse_pid=
pm logs "$NAME" >"$work/container.log" 2>&1 || true
exit_code=$(pm inspect "$NAME" --format '{{.State.ExitCode}}' 2>>"$LOG" || echo '?')
check "stop: podman stop -t 20 → exit code 0 in ${took} s (< 20 s: no SIGKILL)" \
  bash -c "[[ '$exit_code' == 0 ]] && awk -v t='$took' 'BEGIN { exit !(t < 20) }'"
check "stop: the instance logged SIGTERM, drained and stopped its PostgreSQL" \
  bash -c "grep -q 'SIGTERM' '$work/container.log' && grep -q 'embedded PostgreSQL stopped' '$work/container.log' && grep -q '\"message\":\"stopped\"' '$work/container.log'"
check "stop: an open stream was ended with retry: 200 (its client reconnects at once)" \
  grep -q '^retry: 200' "$work/sse-stop.body"

# --- 7. start again: the data survived ------------------------------------------------------------
t=$(now)
if pm start "$NAME" >>"$LOG" 2>&1 && wait_ready 60; then
  pass "restart: podman start, ready again in $(since "$t") s"
else
  pm logs "$NAME" >"$work/container.log" 2>&1 || true
  fail "restart: not ready after $(since "$t") s"
  exit 1
fi
code=$(curl -s -o "$work/login.json" -w '%{http_code}' -X POST "$BASE/auth/login" \
  -H 'content-type: application/json' -d "{\"email\":\"$email\",\"password\":\"$password\"}" || true)
check "restart: the account survived (POST /auth/login → $code)" test "$code" = 200
me=$(curl -s "$BASE/me" -H "authorization: Bearer $access" || true)
check "restart: the access token from before still works and GET /me has 42 points (the kept JWT secret)" \
  jqe '.totalPoints == 42' <<<"$me"
board=$(curl -s "$BASE/leaderboard" || true)
check "restart: GET /leaderboard still ranks $user with 42 points" \
  jqe --arg u "$user" 'any(.entries[]; .username == $u and .totalPoints == 42)' <<<"$board"
t=$(now)
pm stop -t 20 "$NAME" >>"$LOG" 2>&1 || true
exit_code=$(pm inspect "$NAME" --format '{{.State.ExitCode}}' 2>>"$LOG" || echo '?')
check "restart: the second stop exits 0 too ($(since "$t") s)" test "$exit_code" = 0

echo "$passes passed, $failures failed"
((failures == 0))

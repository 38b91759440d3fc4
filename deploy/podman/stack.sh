#!/usr/bin/env bash
# The compose stack (docker-compose.yml, unchanged) with Debian's podman-compose 1.0.3 and the
# stand-in images of standins.sh --stack. Second priority next to check.sh; it reports what runs
# and what does not, and why.
#
#   sudo bash deploy/podman/stack.sh
#
# Run in a scratch project directory (docker-compose.yml copied byte for byte — cmp-checked —,
# deploy/ linked, a .env made from .env.example with fresh secrets and free host ports), so that
# nothing is written in the repository. Two passes:
#   A. docker-compose.yml alone: which services start;
#   B. docker-compose.yml + compose.machine-limits.yml (only the ulimits this machine refuses):
#      the checks below, one PASS/FAIL line each. A FAIL marked "expected here" is a known limit
#      of this machine or of the stand-ins (named in the line); it does not fail the script.
# Everything the script made (containers, their anonymous volumes, named volumes, the network) is
# removed at the end.
set -euo pipefail

# shellcheck source=deploy/podman/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
project=sbstack$$
dir=$(mktemp -d /tmp/scoreboard-stack.XXXXXX)

say() { printf '[stack %(%H:%M:%S)T] %s\n' -1 "$*"; }
expected=0
known() {
  expected=$((expected + 1))
  printf 'FAIL  (expected here) %s\n' "$*"
}

teardown() {
  local c
  # a container in its restart loop (restart: unless-stopped) may come back once: up to 3 rounds
  for _ in 1 2 3; do
    for c in $(pm ps -a --filter "label=io.podman.compose.project=$project" --format '{{.Names}}' 2>/dev/null); do
      pm rm -f -v -t 0 "$c" >/dev/null 2>&1 || true
    done
    [[ -z $(pm ps -a -q --filter "label=io.podman.compose.project=$project" 2>/dev/null) ]] && break
    sleep 1
  done
  for c in $(pm volume ls --filter "label=io.podman.compose.project=$project" --format '{{.Name}}' 2>/dev/null); do
    pm volume rm -f "$c" >/dev/null 2>&1 || true
  done
  pm network rm -f "${project}_default" >/dev/null 2>&1 || true
}
cleanup() {
  teardown
  if ((failures == 0)); then rm -rf "$dir"; else echo "logs kept in $dir"; fi
}
trap cleanup EXIT

command -v podman-compose >/dev/null || {
  echo "stack.sh: podman-compose is missing (apt-get install -y podman-compose)" >&2
  exit 69
}

bash "$here/standins.sh" --stack
if ! pm image exists scoreboard:latest; then
  say "scoreboard:latest is missing: building it (as check.sh does)"
  build_image scoreboard:latest "$dir/build.log"
fi

free_port() {
  local p=$1
  while ss -Hltn "sport = :$p" | grep -q .; do p=$((p + 1)); done
  echo "$p"
}
http_port=$(free_port 18080)
prom_port=$(free_port 19090)
cp "$repo/docker-compose.yml" "$dir/docker-compose.yml"
cmp -s "$repo/docker-compose.yml" "$dir/docker-compose.yml"
# deploy/ as it is, but for the instances nginx balances: the nginx stand-in is Debian's 1.22, which
# has no `resolve` (nginx 1.27.3 and later; the pinned image is 1.28), so the scratch copy of
# deploy/nginx-servers.conf drops that one parameter — nginx then resolves `app` once, at start.
cp -r "$repo/deploy" "$dir/deploy"
sed -i -E 's/^(server app:[0-9]+) resolve( [^;]*)?;$/\1\2;/' "$dir/deploy/nginx-servers.conf"
grep -Eq '^server app:[0-9]+ max_fails=0;$' "$dir/deploy/nginx-servers.conf"
cp "$here/compose.machine-limits.yml" "$dir/"
sed -e "s|^POSTGRES_PASSWORD=.*|POSTGRES_PASSWORD=$(openssl rand -hex 16)|" \
  -e "s|^JWT_SECRET=.*|JWT_SECRET=$(openssl rand -hex 32)|" \
  -e "s|^ADMIN_TOKEN=.*|ADMIN_TOKEN=$(openssl rand -hex 32)|" \
  -e "s|^HTTP_PORT=.*|HTTP_PORT=$http_port|" \
  -e "s|^PROMETHEUS_PORT=.*|PROMETHEUS_PORT=$prom_port|" \
  "$repo/.env.example" >"$dir/.env"
admin_token=$(grep '^ADMIN_TOKEN=' "$dir/.env" | cut -d= -f2)
cd "$dir"

status_of() { pm ps -a --filter "label=io.podman.compose.project=$project" --format '{{.Names}}|{{.Status}}'; }
ip_of() { pm inspect "$1" --format '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' 2>/dev/null; }

# --- A. the compose file as it is -------------------------------------------------------------
say "A. podman-compose -p $project up -d --no-build (docker-compose.yml unchanged; HTTP_PORT=$http_port PROMETHEUS_PORT=$prom_port)"
podman-compose -p "$project" up -d --no-build >"$dir/up-A.log" 2>&1 || true
sleep 15
while IFS='|' read -r name st; do
  case $st in
    Up*) pass "A. $name runs ($st)" ;;
    *)
      why=$(grep -A3 -- "--name=$name " "$dir/up-A.log" | grep -m1 '^Error' | sed 's/.*error during container init: //' || true)
      known "A. $name does not start ($st): ${why:-see $dir/up-A.log}"
      ;;
  esac
done < <(status_of)
if grep -q 'METRICS_TOKEN=${METRICS_TOKEN:-}' "$dir/up-A.log"; then
  echo "NOTE  A. podman-compose 1.0.3 passes METRICS_TOKEN='\${METRICS_TOKEN:-}' literally (it does not interpolate an empty default)"
fi
teardown

# --- B. with this machine's ulimits ----------------------------------------------------------
say "B. podman-compose -p $project -f docker-compose.yml -f compose.machine-limits.yml up -d --no-build"
podman-compose -p "$project" -f docker-compose.yml -f compose.machine-limits.yml up -d --no-build >"$dir/up-B.log" 2>&1 || true
app1=${project}_app_1
app2=${project}_app_2
ready=0
for ((i = 0; i < 90; i++)); do
  a=$(ip_of "$app1") b=$(ip_of "$app2")
  if [[ -n $a && -n $b ]] && curl -sf -o /dev/null "http://$a:8000/readyz" && curl -sf -o /dev/null "http://$b:8000/readyz"; then
    ready=1
    break
  fi
  sleep 1
done
status_of | sed 's/^/      /'
for c in "${project}_postgres_1" "${project}_redis_1" "$app1" "$app2" "${project}_prometheus_1"; do
  check "B. $c: its health check answers (podman healthcheck run)" \
    bash -c "podman --runtime /usr/sbin/runc healthcheck run $c >/dev/null 2>&1"
done
A=http://$(ip_of "$app1"):8000
B=http://$(ip_of "$app2"):8000
check "B. both app replicas ready, scale-out mode with PostgreSQL and Redis" \
  bash -c "[[ $ready == 1 ]] && curl -s $A/readyz | jq -e '.mode == \"scale-out\" and .redis == \"ok\" and .postgres == \"ok\"' >/dev/null &&
    curl -s $B/readyz | jq -e '.mode == \"scale-out\" and .redis == \"ok\"' >/dev/null"

code=$(curl -s -o "$dir/register.json" -w '%{http_code}' -X POST "$A/auth/register" -H 'content-type: application/json' \
  -d '{"username":"stackcheck","email":"stackcheck@example.com","password":"correct horse battery"}' || true)
check "B. POST /auth/register on replica 1 → 201" test "$code" = 201
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$B/admin/actions" -H "authorization: Bearer $admin_token" \
  -H 'content-type: application/json' -d '{"slug":"stack","label":"Stack","pointValue":7}' || true)
check "B. POST /admin/actions on replica 2 with .env's ADMIN_TOKEN → 201" test "$code" = 201
curl -s -N --max-time 5 "$B/leaderboard/stream" >"$dir/sse.txt" 2>/dev/null &
sse=$!
sleep 1
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$A/actions/stack/complete" \
  -H "authorization: Bearer $(jq -r .accessToken "$dir/register.json")" -H 'idempotency-key: stack-1' || true)
check "B. POST /actions/stack/complete on replica 1 (token signed with the shared JWT_SECRET) → 201" test "$code" = 201
wait "$sse" || true
check "B. replica 2's stream carries the completion made on replica 1 (Redis pub/sub)" \
  bash -c "grep '^data: ' '$dir/sse.txt' | tail -n1 | cut -c7- | jq -e 'any(.entries[]; .username == \"stackcheck\" and .totalPoints == 7)' >/dev/null"
check "B. Redis holds the board (ZSCORE leaderboard = 7)" \
  bash -c "[[ \$(podman --runtime /usr/sbin/runc exec ${project}_redis_1 redis-cli zscore leaderboard \$(jq -r .account.id '$dir/register.json')) == 7 ]]"
sleep 16 # one scrape interval
targets=$(curl -s "http://127.0.0.1:$prom_port/api/v1/targets" || true)
check "B. Prometheus (published on 127.0.0.1:$prom_port) finds both replicas by DNS and scrapes them" \
  bash -c "jq -e '[.data.activeTargets[] | select(.health == \"up\")] | length == 2' >/dev/null" <<<"$targets"
proxy_log=$(pm logs "${project}_proxy_1" 2>&1 | grep -m1 emerg || true)
P=http://127.0.0.1:$http_port
check "B. the proxy (deploy/nginx.conf) answers on :$http_port${proxy_log:+ ($proxy_log)}" \
  curl -sf -o /dev/null --max-time 3 "$P/readyz"
# Each replica counts the GET /leaderboard requests it answered.
served() { curl -s "$1/metrics" | awk '/^scoreboard_http_requests_total\{.*route="\/leaderboard".*method="GET"/ { n += $NF } END { print n + 0 }'; }
before_a=$(served "$A") before_b=$(served "$B")
for _ in $(seq 20); do curl -s -o /dev/null "$P/leaderboard"; done
check "B. the proxy balances both replicas (20 reads: $(($(served "$A") - before_a)) on one, $(($(served "$B") - before_b)) on the other)" \
  bash -c "(( $(served "$A") > before_a && $(served "$B") > before_b ))"
curl -s -N --max-time 4 "$P/leaderboard/stream" >"$dir/sse-proxy.txt" 2>/dev/null || true
check "B. the stream through the proxy carries the board" \
  bash -c "grep '^data: ' '$dir/sse-proxy.txt' | head -n1 | cut -c7- | jq -e 'any(.entries[]; .username == \"stackcheck\")' >/dev/null"
check "B. the proxy answers 404 to /metrics from outside" \
  test "$(curl -s -o /dev/null -w '%{http_code}' "$P/metrics")" = 404
t=$SECONDS
pm stop -t 20 "$app1" >/dev/null 2>&1 || true
check "B. podman stop -t 20 on replica 1: exit code 0 in $((SECONDS - t)) s" \
  test "$(pm inspect "$app1" --format '{{.State.ExitCode}}')" = 0
check "B. replica 2 still serves the board with replica 1 stopped" \
  bash -c "curl -s $B/leaderboard | jq -e 'any(.entries[]; .username == \"stackcheck\")' >/dev/null"
check "B. through the proxy, 10 reads with replica 1 stopped: all 200" \
  bash -c "for i in \$(seq 10); do curl -s -o /dev/null -w '%{http_code}\n' $P/leaderboard; done | sort -u | grep -qx 200"

echo "$failures failed, $expected failed as expected here"
((failures == 0))

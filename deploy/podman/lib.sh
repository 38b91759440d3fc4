# Shared by check.sh and stack.sh (sourced): this machine's podman settings, PASS/FAIL lines with
# their count, and the project image built from the unchanged Dockerfile.
# shellcheck shell=bash

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
export CONTAINERS_CONF=${CONTAINERS_CONF:-$here/containers.conf}
# podman builds OCI images by default, whose format has no HEALTHCHECK: Docker's keeps it.
export BUILDAH_FORMAT=${BUILDAH_FORMAT:-docker}

pm() { podman --runtime /usr/sbin/runc "$@"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

failures=0
passes=0
pass() {
  passes=$((passes + 1))
  printf 'PASS  %s\n' "$*"
}
fail() {
  failures=$((failures + 1))
  printf 'FAIL  %s\n' "$*"
}
# check "name" command…: PASS when the command succeeds
check() {
  local name=$1
  shift
  if "$@"; then pass "$name"; else fail "$name"; fi
}

# build_image IMAGE LOG: `podman build -t IMAGE .` of the repository, its output in LOG. Its RUN
# steps trust BUILD_CA (default: the host's bundle when /usr/local/share/ca-certificates holds a
# CA; empty: none) through build-runtime.sh, this machine's egress re-signing TLS.
build_image() {
  local image=$1 log=$2 runtime=/usr/sbin/runc ca
  local -a args=()
  if [[ -z ${BUILD_CA+x} ]]; then
    ca=
    if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
      ca=/etc/ssl/certs/ca-certificates.crt
    fi
  else
    ca=$BUILD_CA
  fi
  if [[ -n $ca ]]; then
    runtime=$here/build-runtime.sh
    args=(-v "$ca:/run/host-ca.pem:ro")
  fi
  (cd "$repo" && podman --runtime "$runtime" build "${args[@]}" -t "$image" .) >"$log" 2>&1
}

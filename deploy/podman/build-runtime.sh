#!/usr/bin/env bash
# An OCI runtime for `podman build` on this machine only: runc, plus DENO_CERT for the RUN steps.
#
# This machine's egress to the npm registry goes through a TLS-intercepting proxy whose CA is in the
# host's bundle (/etc/ssl/certs/ca-certificates.crt) but not in Deno's built-in roots, so the
# Dockerfile's `RUN deno install --frozen` fails with "invalid peer certificate: UnknownIssuer".
# `podman build --env` reaches only the final image's config (not the RUN steps) in podman 4.3,
# and the Dockerfile declares no ARG for it; so check.sh builds with
#   podman build --runtime deploy/podman/build-runtime.sh -v <host CA bundle>:/run/host-ca.pem:ro …
# and this wrapper adds DENO_CERT=/run/host-ca.pem to the process of every RUN step that has that
# mount. Nothing of it reaches the image: the mount and the variable exist only while a RUN step
# runs, and the Dockerfile is built as it is.
set -euo pipefail

bundle=
prev=
for arg in "$@"; do
  case $prev in --bundle | -b) bundle=$arg ;; esac
  case $arg in --bundle=*) bundle=${arg#--bundle=} ;; esac
  prev=$arg
done
if [[ -n $bundle && -f $bundle/config.json ]] &&
  jq -e 'any(.mounts[]?; .destination == "/run/host-ca.pem")' "$bundle/config.json" >/dev/null; then
  tmp=$(mktemp "$bundle/config.json.XXXXXX")
  jq '.process.env += ["DENO_CERT=/run/host-ca.pem"]' "$bundle/config.json" >"$tmp"
  mv "$tmp" "$bundle/config.json"
fi
exec /usr/sbin/runc "$@"

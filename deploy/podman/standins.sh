#!/usr/bin/env bash
# Stand-in base images for podman on a machine that can reach no image registry (only Debian's apt
# mirror and the npm registry), tagged with the exact names the project pins, so that the
# project's Dockerfile builds unchanged with `podman build` (and, with --stack, so that
# docker-compose.yml finds an image of each name it uses).
#
#   bash deploy/podman/standins.sh           # localhost/standin/debian:bookworm-slim and
#                                            #   docker.io/denoland/deno:debian-2.9.6
#   bash deploy/podman/standins.sh --stack   # also postgres, redis, nginx and prometheus (below)
#   FORCE=1 bash deploy/podman/standins.sh   # rebuild even when `podman image exists`
#
# Every image is made once and then kept: an image that `podman image exists` finds is skipped.
# Needs root, podman, runc, mmdebstrap, and npm only when the npx cache lacks deno 2.9.6. Uses
# deploy/podman/containers.conf (runc, cgroupfs, no default ulimits: see that file).
#
# What the stand-ins reproduce, and what they do not:
#
# localhost/standin/debian:bookworm-slim — the common base (not a name any project file uses).
#   + Debian 12 "bookworm" amd64, variant minbase (Essential + apt), from deb.debian.org with
#     bookworm-updates and bookworm-security, made with mmdebstrap; like the official *-slim
#     images, no man pages, docs (copyright files kept) or translations; ENV PATH; CMD ["bash"].
#   - not debuerreotype's reproducible build, not the same snapshot date, no
#     /etc/apt/apt.conf.d/docker-* tweaks; amd64 only.
#
# docker.io/denoland/deno:debian-2.9.6 — what the project's Dockerfile is built FROM.
#   + /usr/bin/deno: deno 2.9.6 x86_64-unknown-linux-gnu, from the npm package
#     @deno/linux-x64-glibc@2.9.6 (the npx cache's copy when its version says 2.9.6, else
#     `npm pack`): the same release binary the official image copies from denoland/deno:bin-2.9.6;
#   + /tini: tini 0.19.0 (the official image's version), Debian's static build (tini-static from
#     the tini .deb); official: the GitHub release binary of krallin/tini;
#   + user and group `deno`, uid 1993 / gid 1993 (`useradd --uid 1993 --user-group deno`), home
#     /home/deno not created (as the official);
#   + /deno-dir/ owned by deno; ENV DENO_DIR=/deno-dir/ DENO_INSTALL_ROOT=/usr/local
#     DENO_USE_CGROUPS=1 DENO_VERSION=2.9.6;
#   + ENTRYPOINT ["/tini", "--", "docker-entrypoint.sh"], CMD ["eval", "console.log('Welcome to
#     Deno!')"]; /usr/local/bin/docker-entrypoint.sh (deploy/podman/standin/deno-entrypoint.sh, written
#     for this stand-in) execs `deno "$@"` for an option or one of the official script's deno
#     subcommands, else exec "$@";
#   + the official image's OCI labels (title, description, url, source, licenses, version);
#   - the official debian variant is built FROM debian:stable-slim, i.e. Debian 13 "trixie" (glibc
#     2.41) since August 2025; this one is bookworm (glibc 2.36), as asked. Both run deno, dbmate
#     and the embedded PostgreSQL (they need glibc and libstdc++ ≥ bookworm's);
#   - amd64 only (the official tag is multi-arch: amd64 and arm64); different digest and layers.
#
# With --stack (stand-ins for docker-compose.yml's other images; Debian bookworm packages, so the
# versions are Debian's, not the pinned ones — see each):
#
# docker.io/library/postgres:17.6-bookworm — Debian's postgresql 15 (NOT 17.6).
#   + the official entrypoint's contract as far as the compose file relies on it: the
#     POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB variables (first start: initdb of
#     PGDATA=/var/lib/postgresql/data as user postgres, the superuser named POSTGRES_USER with
#     that password, scram-sha-256 for host connections, the database created), listening on
#     all addresses on 5432, `postgres` run as the postgres user via gosu-like setpriv, exec so
#     that SIGTERM reaches it; pg_isready, psql, pg_dump and pg_restore on PATH; VOLUME
#     /var/lib/postgresql/data; STOPSIGNAL SIGINT; EXPOSE 5432; POSTGRES_HOST_AUTH_METHOD;
#   - PostgreSQL 15.x, not 17.6 (a 17 cluster cannot be read by it nor the other way round); no
#     /docker-entrypoint-initdb.d scripts, no POSTGRES_INITDB_ARGS / POSTGRES_INITDB_WALDIR /
#     *_FILE secrets, no locale en_US.utf8 (C.UTF-8 instead); no gosu; the postgres user's uid is
#     Debian's system uid, not 999; /usr/lib/postgresql/15/bin on PATH, PG_MAJOR=15.
#
# docker.io/library/redis:7.4.5-bookworm — Debian's redis-server 7.0 (NOT 7.4.5).
#   + redis-server and redis-cli on PATH; WORKDIR and VOLUME /data owned by redis; an entrypoint
#     that, as the official one, prepends redis-server to options (`--save …`) and drops root to
#     the redis user for redis-server; CMD ["redis-server"]; EXPOSE 6379; it listens on all
#     addresses with protected mode off, as the official image's default does;
#   - Redis 7.0.x, not 7.4.5; no gosu, no umask 0077; the redis user's uid is Debian's, not 999;
#     Debian's /etc/redis/redis.conf is present but unused (as in the official, no config file).
#
# docker.io/library/nginx:1.28.0-bookworm — Debian's nginx 1.22.1 (NOT 1.28.0).
#   + /etc/nginx/nginx.conf, /etc/nginx/conf.d/default.conf (the official image's welcome server on
#     80), logs to stdout/stderr, CMD ["nginx", "-g", "daemon off;"], STOPSIGNAL SIGQUIT, EXPOSE 80,
#     the user nginx;
#   - nginx 1.22: no `resolve` parameter on upstream servers (≥ 1.27.3), which deploy/nginx.conf
#     uses, so the project's proxy configuration is refused by this stand-in (see stack.sh);
#     Debian's build prefix is /usr/share/nginx, the official's /etc/nginx (the relative `pid`
#     and temp paths of deploy/nginx.conf land there); no /docker-entrypoint.sh nor
#     /docker-entrypoint.d scripts (envsubst templates, IPv6 listen tweak); nginx's uid is
#     Debian's system uid, not 101; Debian's module set, not nginx.org's.
#
# docker.io/prom/prometheus:v2.53.4 — Debian's prometheus 2.42 (NOT 2.53.4).
#   + /bin/prometheus and /bin/promtool (Debian's, /bin being /usr/bin), /bin/sh, and wget for the
#     compose file's health check (GNU wget; the official busybox image has busybox's), WORKDIR and VOLUME
#     /prometheus owned by nobody, USER nobody, ENTRYPOINT ["/bin/prometheus"], the official
#     default CMD (config /etc/prometheus/prometheus.yml, storage /prometheus), EXPOSE 9090;
#   - Prometheus 2.42, a Debian bookworm base instead of busybox (far larger: ~560 MB); Debian's
#     default prometheus.yml and consoles in /etc/prometheus (the official keeps consoles in
#     /usr/share/prometheus; the compose file mounts its own /etc/prometheus anyway).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export CONTAINERS_CONF=${CONTAINERS_CONF:-$here/containers.conf}
# HEALTHCHECK (and SHELL, ONBUILD) are kept only in the Docker image format, as `docker build` does.
export BUILDAH_FORMAT=${BUILDAH_FORMAT:-docker}

DENO_VERSION=2.9.6
DEBIAN_SUITE=bookworm
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${SECURITY_MIRROR:-http://deb.debian.org/debian-security}
BASE_IMAGE=localhost/standin/debian:${DEBIAN_SUITE}-slim
DENO_IMAGE=docker.io/denoland/deno:debian-${DENO_VERSION}

stack=0
for arg in "$@"; do
  case $arg in
    --stack) stack=1 ;;
    -h | --help)
      sed -n '2,12p' "${BASH_SOURCE[0]}"
      exit 0
      ;;
    *)
      echo "standins.sh: unknown argument $arg" >&2
      exit 64
      ;;
  esac
done

pm() { podman --runtime /usr/sbin/runc "$@"; }
log() { printf '[standins %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

work=$(mktemp -d /tmp/standins.XXXXXX)
trap 'rm -rf "$work"' EXIT

# 0 when the image must be made (missing, or FORCE=1)
need() {
  if [[ ${FORCE:-0} != 1 ]] && pm image exists "$1"; then
    log "$1: present, kept"
    return 1
  fi
  return 0
}

for tool in podman mmdebstrap; do
  command -v "$tool" >/dev/null || {
    echo "standins.sh: $tool is missing (apt-get install -y podman runc mmdebstrap)" >&2
    exit 69
  }
done
[[ -x /usr/sbin/runc ]] || {
  echo "standins.sh: /usr/sbin/runc is missing (apt-get install -y runc)" >&2
  exit 69
}

# --- the Debian base ----------------------------------------------------------------------------
if need "$BASE_IMAGE"; then
  start=$SECONDS
  log "$BASE_IMAGE: mmdebstrap --variant=minbase $DEBIAN_SUITE (about 1.5 min)"
  mmdebstrap --quiet --variant=minbase --mode=root --format=tar \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/lintian/*' \
    --aptopt='Acquire::Languages "none"' \
    "$DEBIAN_SUITE" "$work/rootfs.tar" \
    "deb $MIRROR $DEBIAN_SUITE main" \
    "deb $MIRROR $DEBIAN_SUITE-updates main" \
    "deb $SECURITY_MIRROR $DEBIAN_SUITE-security main"
  pm import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' \
    --message "stand-in for debian:$DEBIAN_SUITE-slim (mmdebstrap minbase)" \
    "$work/rootfs.tar" "$BASE_IMAGE" >/dev/null
  rm -f "$work/rootfs.tar"
  log "$BASE_IMAGE: made in $((SECONDS - start)) s"
fi

# --- denoland/deno:debian-2.9.6 ----------------------------------------------------------------
deno_binary() {
  local f
  for f in "${HOME:-/root}"/.npm/_npx/*/node_modules/@deno/linux-x64-glibc/deno; do
    if [[ -x $f ]] && "$f" --version 2>/dev/null | head -n1 | grep -q "^deno $DENO_VERSION "; then
      echo "$f"
      return
    fi
  done
  log "deno $DENO_VERSION not in the npx cache: npm pack @deno/linux-x64-glibc@$DENO_VERSION"
  (cd "$work" && npm pack --silent "@deno/linux-x64-glibc@$DENO_VERSION" >/dev/null &&
    tar -xzf "deno-linux-x64-glibc-$DENO_VERSION.tgz")
  echo "$work/package/deno"
}

# tini-static from Debian's tini package (the official image's tini is 0.19.0 too)
tini_binary() {
  mkdir -p "$work/tini"
  (cd "$work/tini" && apt-get download -qq tini >/dev/null 2>&1 || true)
  local deb
  deb=$(ls "$work"/tini/tini_*.deb 2>/dev/null | head -n1 || true)
  if [[ -n $deb ]]; then
    dpkg-deb -x "$deb" "$work/tini/root"
    echo "$work/tini/root/usr/bin/tini-static"
  elif [[ -x /usr/bin/tini-static ]]; then
    echo /usr/bin/tini-static
  else
    echo "standins.sh: cannot get Debian's tini (apt-get download tini failed)" >&2
    exit 69
  fi
}

if need "$DENO_IMAGE"; then
  start=$SECONDS
  ctx=$work/deno
  mkdir -p "$ctx"
  cp "$(deno_binary)" "$ctx/deno"
  cp "$(tini_binary)" "$ctx/tini"
  cp "$here/standin/deno-entrypoint.sh" "$ctx/docker-entrypoint.sh"
  "$ctx/deno" --version | head -n1 | grep -q "^deno $DENO_VERSION " || {
    echo "standins.sh: the deno binary is not $DENO_VERSION" >&2
    exit 70
  }
  cat >"$ctx/Containerfile" <<EOF
FROM $BASE_IMAGE

RUN useradd --uid 1993 --user-group deno \\
  && mkdir /deno-dir/ \\
  && chown deno:deno /deno-dir/

ENV DENO_USE_CGROUPS=1
ENV DENO_DIR=/deno-dir/
ENV DENO_INSTALL_ROOT=/usr/local
ENV DENO_VERSION=$DENO_VERSION

COPY --chmod=755 deno /usr/bin/deno
COPY --chmod=755 tini /tini
COPY --chmod=755 docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh

LABEL org.opencontainers.image.title="Deno" \\
      org.opencontainers.image.description="Deno Docker image (Debian) - local stand-in, see deploy/podman/standins.sh" \\
      org.opencontainers.image.url="https://github.com/denoland/deno_docker" \\
      org.opencontainers.image.source="https://github.com/denoland/deno_docker" \\
      org.opencontainers.image.licenses="MIT" \\
      org.opencontainers.image.version="$DENO_VERSION"

ENTRYPOINT ["/tini", "--", "docker-entrypoint.sh"]
CMD ["eval", "console.log('Welcome to Deno!')"]
EOF
  log "$DENO_IMAGE: building"
  pm build --quiet --pull=never --format docker -t "$DENO_IMAGE" -f "$ctx/Containerfile" "$ctx" >/dev/null
  log "$DENO_IMAGE: made in $((SECONDS - start)) s"
fi

if [[ $stack == 0 ]]; then
  log "done (add --stack for the compose file's postgres, redis, nginx and prometheus)"
  exit 0
fi

# --- the compose stack's other images (Debian packages; see the header for what differs) --------
# apt inside a build: no service may start (policy-rc.d), no recommends, the lists removed after.
apt_install() {
  echo "RUN set -eu; printf '#!/bin/sh\\nexit 101\\n' >/usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; \\"
  echo "  apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $*; \\"
  echo "  rm -rf /var/lib/apt/lists/* /usr/sbin/policy-rc.d"
}

build_standin() { # image, context directory (with its Containerfile)
  local start=$SECONDS
  log "$1: building"
  pm build --quiet --pull=never --format docker -t "$1" -f "$2/Containerfile" "$2" >/dev/null
  log "$1: made in $((SECONDS - start)) s"
}

PG_IMAGE=docker.io/library/postgres:17.6-bookworm
if need "$PG_IMAGE"; then
  ctx=$work/postgres
  mkdir -p "$ctx"
  cp "$here/standin/postgres-entrypoint.sh" "$ctx/docker-entrypoint.sh"
  cat >"$ctx/Containerfile" <<EOF
FROM $BASE_IMAGE
$(apt_install postgresql-common)
RUN sed -ri 's/#(create_main_cluster) .*\$/\\1 = false/' /etc/postgresql-common/createcluster.conf
$(apt_install postgresql-15 postgresql-client-15)
ENV PG_MAJOR=15 \\
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/postgresql/15/bin \\
    PGDATA=/var/lib/postgresql/data \\
    LANG=C.UTF-8
RUN mkdir -p /var/run/postgresql /var/lib/postgresql/data \\
  && chown -R postgres:postgres /var/run/postgresql /var/lib/postgresql \\
  && chmod 3777 /var/run/postgresql && chmod 1777 /var/lib/postgresql/data
COPY --chmod=755 docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
LABEL org.opencontainers.image.description="stand-in for postgres:17.6-bookworm: Debian's PostgreSQL 15 (deploy/podman/standins.sh)"
VOLUME /var/lib/postgresql/data
ENTRYPOINT ["docker-entrypoint.sh"]
STOPSIGNAL SIGINT
EXPOSE 5432
CMD ["postgres"]
EOF
  build_standin "$PG_IMAGE" "$ctx"
fi

REDIS_IMAGE=docker.io/library/redis:7.4.5-bookworm
if need "$REDIS_IMAGE"; then
  ctx=$work/redis
  mkdir -p "$ctx"
  cp "$here/standin/redis-entrypoint.sh" "$ctx/docker-entrypoint.sh"
  cat >"$ctx/Containerfile" <<EOF
FROM $BASE_IMAGE
$(apt_install redis-server redis-tools)
RUN mkdir -p /data && chown redis:redis /data
COPY --chmod=755 docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
LABEL org.opencontainers.image.description="stand-in for redis:7.4.5-bookworm: Debian's Redis 7.0 (deploy/podman/standins.sh)"
VOLUME /data
WORKDIR /data
ENTRYPOINT ["docker-entrypoint.sh"]
EXPOSE 6379
CMD ["redis-server"]
EOF
  build_standin "$REDIS_IMAGE" "$ctx"
fi

NGINX_IMAGE=docker.io/library/nginx:1.28.0-bookworm
if need "$NGINX_IMAGE"; then
  ctx=$work/nginx
  mkdir -p "$ctx"
  # the official image's nginx.conf and conf.d/default.conf, in substance
  cat >"$ctx/nginx.conf" <<'EOF'
user  nginx;
worker_processes  auto;
error_log  /var/log/nginx/error.log notice;
pid        /var/run/nginx.pid;
events {
    worker_connections  1024;
}
http {
    include       /etc/nginx/mime.types;
    default_type  application/octet-stream;
    access_log  /var/log/nginx/access.log;
    sendfile        on;
    keepalive_timeout  65;
    include /etc/nginx/conf.d/*.conf;
}
EOF
  cat >"$ctx/default.conf" <<'EOF'
server {
    listen       80;
    server_name  localhost;
    location / {
        root   /usr/share/nginx/html;
        index  index.html index.htm;
    }
}
EOF
  cat >"$ctx/Containerfile" <<EOF
FROM $BASE_IMAGE
$(apt_install nginx)
RUN useradd --system --no-create-home --home-dir /nonexistent --shell /bin/false --user-group nginx \\
  && rm -rf /etc/nginx/sites-enabled /etc/nginx/sites-available \\
  && mkdir -p /etc/nginx/conf.d /usr/share/nginx/html \\
  && cp /var/www/html/index.nginx-debian.html /usr/share/nginx/html/index.html \\
  && ln -sf /dev/stdout /var/log/nginx/access.log && ln -sf /dev/stderr /var/log/nginx/error.log
COPY nginx.conf /etc/nginx/nginx.conf
COPY default.conf /etc/nginx/conf.d/default.conf
LABEL org.opencontainers.image.description="stand-in for nginx:1.28.0-bookworm: Debian's nginx 1.22 (deploy/podman/standins.sh)"
EXPOSE 80
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
EOF
  build_standin "$NGINX_IMAGE" "$ctx"
fi

PROM_IMAGE=docker.io/prom/prometheus:v2.53.4
if need "$PROM_IMAGE"; then
  ctx=$work/prometheus
  mkdir -p "$ctx"
  cat >"$ctx/Containerfile" <<EOF
FROM $BASE_IMAGE
$(apt_install prometheus wget)
RUN mkdir -p /prometheus /etc/prometheus \\
  && chown -R nobody:nogroup /prometheus /etc/prometheus \\
  && test -x /bin/prometheus && test -x /bin/promtool
LABEL org.opencontainers.image.description="stand-in for prom/prometheus:v2.53.4: Debian's Prometheus 2.42 (deploy/podman/standins.sh)"
USER nobody
EXPOSE 9090
VOLUME /prometheus
WORKDIR /prometheus
ENTRYPOINT ["/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
EOF
  build_standin "$PROM_IMAGE" "$ctx"
fi

log "done"

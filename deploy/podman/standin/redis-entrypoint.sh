#!/bin/sh
# Entrypoint of the stand-in for redis:*-bookworm (deploy/podman/standins.sh --stack), written for
# it, with the official image's contract: options first (`--save 60 1`) or a *.conf first mean
# `redis-server …`; redis-server started as root gets /data and runs as the user redis; exec, so
# that SIGTERM reaches redis-server. The official binary is built with protected mode off by
# default (it listens on every address, for other containers); Debian's is not, so this script
# passes `--protected-mode no` first (the caller's own options, which come after it, win).
set -e

case "${1-}" in
  -* | *.conf) set -- redis-server "$@" ;;
esac

if [ "${1-}" = redis-server ] && [ "$(id -u)" = 0 ]; then
  find . \! -user redis -exec chown redis '{}' +
  exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi

if [ "${1-}" = redis-server ]; then
  shift
  case "${1-}" in
    *.conf)
      conf=$1
      shift
      exec redis-server "$conf" --protected-mode no "$@"
      ;;
  esac
  exec redis-server --protected-mode no "$@"
fi

exec "$@"

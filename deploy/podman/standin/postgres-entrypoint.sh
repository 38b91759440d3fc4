#!/usr/bin/env bash
# Entrypoint of the stand-in for postgres:*-bookworm (deploy/podman/standins.sh --stack), written
# for it; it keeps the part of the official image's contract that docker-compose.yml relies on:
# - options first (`-c x=y`) mean `postgres …`;
# - as root: PGDATA is made and given to postgres, then the script runs again as postgres;
# - first start (no PGDATA/PG_VERSION): POSTGRES_PASSWORD is required (unless
#   POSTGRES_HOST_AUTH_METHOD=trust), initdb with the superuser POSTGRES_USER (default postgres),
#   local connections trusted, host connections scram-sha-256, POSTGRES_DB (default
#   POSTGRES_USER) created by a server that listens on its socket only;
# - then exec postgres listening on every address, so that SIGINT/SIGTERM reach it.
set -Eeuo pipefail

if [[ ${1:0:1} == - ]]; then
  set -- postgres "$@"
fi

if [[ ${1-} == postgres && $(id -u) == 0 ]]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown -R postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi

if [[ ${1-} == postgres ]]; then
  : "${POSTGRES_USER:=postgres}"
  : "${POSTGRES_DB:=$POSTGRES_USER}"
  : "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"
  if [[ ! -s $PGDATA/PG_VERSION ]]; then
    if [[ -z ${POSTGRES_PASSWORD:-} && $POSTGRES_HOST_AUTH_METHOD != trust ]]; then
      echo 'Error: the database is uninitialized and POSTGRES_PASSWORD is not set.' >&2
      echo '       Set it (or POSTGRES_HOST_AUTH_METHOD=trust, which the official image also takes).' >&2
      exit 1
    fi
    pwfile=$(mktemp)
    printf '%s\n' "${POSTGRES_PASSWORD:-}" >"$pwfile"
    initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --auth-local=trust \
      --auth-host="$POSTGRES_HOST_AUTH_METHOD" --encoding=UTF8 --locale=C.UTF-8 -D "$PGDATA"
    rm -f "$pwfile"
    printf '\nhost all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >>"$PGDATA/pg_hba.conf"
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start
    if [[ $POSTGRES_DB != postgres ]]; then
      psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres --no-psqlrc \
        --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
    fi
    pg_ctl -D "$PGDATA" -m fast -w stop
    echo 'PostgreSQL init process complete; ready for start up.'
  fi
  exec postgres -c listen_addresses='*' "${@:2}"
fi

exec "$@"

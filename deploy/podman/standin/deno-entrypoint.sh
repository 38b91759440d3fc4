#!/bin/sh
# Entrypoint of the stand-in for denoland/deno:debian-* (installed as
# /usr/local/bin/docker-entrypoint.sh, run by /tini as PID 1). Same contract as the official image's
# _entry.sh (github.com/denoland/deno_docker): an option first (`--version`, `-h`) or one of the deno
# subcommands that the official script lists → `exec deno "$@"`; anything else is a program and is
# exec'd as it is. exec, never a child: tini's signals reach deno (or the program) itself.
set -e

case "${1-}" in
  -*)
    exec deno "$@"
    ;;
  # The official list, kept as it is (it has no `check`, `clean`, `outdated`, `update`, `x`, …:
  # those reach exec "$@" there too, so an image that works here works on the official one).
  add | bench | bundle | cache | compile | completions | coverage | doc | eval | fmt | help | init | \
    info | install | jupyter | lint | lsp | publish | remove | repl | run | serve | task | test | \
    types | uninstall | upgrade | vendor)
    exec deno "$@"
    ;;
esac

exec "$@"

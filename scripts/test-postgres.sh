#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests that read a real Pages database
# (tests/it/database.rs). It listens on 127.0.0.1 only, on a free port, with a random
# password, in a temporary directory owned by an unprivileged user; stopping it removes
# everything.
#
#   scripts/test-postgres.sh run -- cargo test --locked     # start, run the command, stop
#   eval "$(scripts/test-postgres.sh start)"                 # or by hand: prints export lines
#   cargo test --locked database
#   scripts/test-postgres.sh stop "$PAGES_ZENDESK_SYNC_TEST_PG_DIR"
#
# PostgreSQL comes from Debian's packages (`apt-get install postgresql`, done here when
# missing and running as root); elsewhere put initdb and pg_ctl on PATH or in
# /usr/lib/postgresql/*/bin. The server also speaks TLS with a certificate for 127.0.0.1
# from a test CA made here with the openssl command. The tests read
# PAGES_ZENDESK_SYNC_TEST_DATABASE_URL and PAGES_ZENDESK_SYNC_TEST_DATABASE_CA (that CA).
set -euo pipefail

log() { echo "test-postgres: $*" >&2; }

find_bindir() {
  local dir
  if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
    dirname "$(command -v pg_ctl)"
    return 0
  fi
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then
    echo "$dir"
    return 0
  fi
  return 1
}

install_postgres() {
  if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" != 0 ]; then
    log "PostgreSQL is not installed; install it (Debian: apt-get install postgresql) and retry"
    exit 1
  fi
  log "installing PostgreSQL from Debian's packages"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
}

# Runs a command as the cluster's owner: the current user, or an unprivileged one when
# root (initdb refuses to run as root).
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u "$OWNER" -- "$@"
  else
    "$@"
  fi
}

# A test CA and a server certificate for 127.0.0.1 / localhost (EC P-256, two days).
make_certificates() {
  local dir=$1
  if ! command -v openssl >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
      apt-get install -y -qq openssl >&2
    else
      log "the openssl command is missing; install it and retry"
      exit 1
    fi
  fi
  (
    cd "$dir"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -keyout ca.key -out ca.pem -days 2 -subj "/CN=pages-zendesk-sync test CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -keyout server.key -out server.csr -subj "/CN=127.0.0.1"
    printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=CA:FALSE" \
      "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
      -out server.pem -days 2 -extfile server.ext
    rm -f ca.key server.csr server.ext ca.srl
    chmod 600 server.key
  ) >/dev/null 2>&1 || { log "could not make the test certificates"; exit 1; }
  [ "$(id -u)" = 0 ] && chown "$OWNER" "$dir/server.key" "$dir/server.pem"
  return 0
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start() {
  local bindir dir password port tries
  bindir=$(find_bindir) || { install_postgres; bindir=$(find_bindir); }
  if [ "$(id -u)" = 0 ]; then
    if id postgres >/dev/null 2>&1; then OWNER=postgres; else OWNER=nobody; fi
  else
    OWNER=$(id -un)
  fi
  dir=$(mktemp -d "${TMPDIR:-/tmp}/pzs-test-pg.XXXXXX")
  chmod 700 "$dir"
  [ "$(id -u)" = 0 ] && chown "$OWNER" "$dir"
  password=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
  (umask 077 && printf '%s\n' "$password" >"$dir/pwfile")
  [ "$(id -u)" = 0 ] && chown "$OWNER" "$dir/pwfile"
  as_owner "$bindir/initdb" -D "$dir/data" -U postgres --pwfile="$dir/pwfile" \
    --auth=scram-sha-256 --encoding=UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  rm -f "$dir/pwfile"
  make_certificates "$dir"
  for tries in 1 2 3 4 5 6 7 8; do
    port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
    port_in_use "$port" && continue
    if as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir \
          -c max_connections=200 -c fsync=off -c synchronous_commit=off \
          -c full_page_writes=off -c ssl=on -c ssl_cert_file=$dir/server.pem \
          -c ssl_key_file=$dir/server.key" start >/dev/null; then
      echo "export PAGES_ZENDESK_SYNC_TEST_DATABASE_URL='postgres://postgres:$password@127.0.0.1:$port/postgres'"
      echo "export PAGES_ZENDESK_SYNC_TEST_DATABASE_CA='$dir/ca.pem'"
      echo "export PAGES_ZENDESK_SYNC_TEST_PG_DIR='$dir'"
      log "PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port ($dir)"
      return 0
    fi
    log "could not start on port $port (attempt $tries); trying another"
  done
  cat "$dir/server.log" >&2 || true
  exit 1
}

stop() {
  local dir=${1:-}
  [ -n "$dir" ] && [ -d "$dir/data" ] || { log "stop: no cluster directory given"; return 0; }
  local bindir owner
  bindir=$(find_bindir) || true
  owner=$(stat -c %U "$dir/data")
  if [ -n "$bindir" ]; then
    if [ "$(id -u)" = 0 ]; then
      runuser -u "$owner" -- "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    else
      "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
  fi
  rm -rf "$dir"
}

case "${1:-}" in
  start) start ;;
  stop) shift; stop "${1:-${PAGES_ZENDESK_SYNC_TEST_PG_DIR:-}}" ;;
  run)
    shift
    [ "${1:-}" = "--" ] && shift
    lines=$(start)
    eval "$lines"
    trap 'stop "$PAGES_ZENDESK_SYNC_TEST_PG_DIR"' EXIT
    "$@"
    ;;
  *)
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac

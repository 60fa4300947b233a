#!/usr/bin/env bash
# Install and run a PostgreSQL server from Debian's packages, for the shared outcome store of
# several workers, the integration tests and the demo.
#
# `install` makes sure the server binaries (/usr/lib/postgresql/<version>/bin) are there,
# installing the Debian package `postgresql` with apt-get when they are not. `start` creates a
# cluster of its own with initdb (not Debian's "main" cluster) in a state directory keyed by its
# port, so tests can run their own server on a free port next to a developer's. The server
# listens on 127.0.0.1 only, trusts every connection from there (no passwords: a development
# server), keeps its unix socket inside the state directory, and has a database `contactmon`.
#
# With --tls the server takes TCP connections over TLS only (pg_hba `hostssl`; a plain one is
# refused), with a throwaway CA and server certificate for 127.0.0.1 made with openssl in
# <state dir>/tls (the CA is tls/ca.pem), TLS 1.2 or newer. The URL it prints then asks for
# sslmode=verify-full with that CA. With CONTACTMON_PG_PASSWORD set, TCP logins need that
# password (scram-sha-256; it becomes the superuser's password, and is never printed).
# The unix socket in the state directory stays trusted: it is how this script talks to it.
#
# Usage: deploy/postgres.sh install
#        deploy/postgres.sh start  [--port 5433] [--data DIR] [--tls]
#        deploy/postgres.sh stop   [--port 5433]
#        deploy/postgres.sh status [--port 5433]
#        deploy/postgres.sh url    [--port 5433]
#
# Environment:
#   CONTACTMON_STATE          state root (default /tmp/contactmon); a server's log, socket and
#                             (by default) data go to $CONTACTMON_STATE/postgres-<port>
#   CONTACTMON_PG_BIN         the directory with initdb and pg_ctl (default: the newest
#                             /usr/lib/postgresql/<version>/bin)
#   CONTACTMON_PG_START_TIMEOUT  seconds to wait for a started server (default 60)
#   CONTACTMON_ALLOW_APT      0 forbids installing PostgreSQL with apt-get (only ever as root)
#   CONTACTMON_PG_PASSWORD    TCP logins need this password (letters, digits, ._~+-); unset:
#                             trusted, no password (rewritten at every start)
#   CONTACTMON_TLS_DAYS       --tls: days the throwaway certificates are valid (default 30)
#
# As root, the cluster belongs to the OS user `postgres` (initdb refuses to run as root), so the
# state root must be enterable by that user; the script makes it so (chmod 755) when it can.
#
# Exit codes: 0 success (status: running), 1 failure, 2 usage error, 3 status: not running.
set -euo pipefail

readonly SCRIPT_NAME=postgres.sh
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

readonly DEFAULT_PORT=5433
readonly DATABASE=contactmon
readonly SUPERUSER=postgres
readonly OS_USER=postgres
readonly STOP_TIMEOUT=60
readonly MAX_SOCKET_PATH=100 # unix socket paths are limited to 107 bytes

# ---- prerequisites ---------------------------------------------------------------------

# The directory holding initdb, pg_ctl and postgres, or nothing when there is none.
find_bindir() {
    local dir candidate
    if [[ -n ${CONTACTMON_PG_BIN:-} ]]; then
        printf '%s\n' "$CONTACTMON_PG_BIN"
        return
    fi
    # The newest version first: 9.6 < 15 < 17 needs a version sort, not a plain one.
    while IFS= read -r candidate; do
        if [[ -x $candidate/initdb && -x $candidate/pg_ctl ]]; then
            printf '%s\n' "$candidate"
            return
        fi
    done < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -r -V)
    if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
        dir=$(dirname "$(readlink -f "$(command -v pg_ctl)")")
        [[ -x $dir/initdb ]] && printf '%s\n' "$dir"
    fi
    return 0
}

# Set BIN to the server binaries' directory, installing the Debian package when allowed.
ensure_server() {
    BIN=$(find_bindir)
    if [[ -z $BIN ]]; then
        apt_allowed || die "PostgreSQL (initdb, pg_ctl) is missing: install it (apt-get install -y postgresql), set CONTACTMON_PG_BIN, or run as root without CONTACTMON_ALLOW_APT=0"
        apt_install postgresql
        BIN=$(find_bindir)
        [[ -n $BIN ]] || die "apt-get installed postgresql, but no /usr/lib/postgresql/<version>/bin has initdb and pg_ctl"
    fi
    local tool
    for tool in initdb pg_ctl postgres pg_isready psql; do
        [[ -x $BIN/$tool ]] || die "$BIN has no $tool (CONTACTMON_PG_BIN=${CONTACTMON_PG_BIN:-unset})"
    done
    if is_root; then
        id -u "$OS_USER" >/dev/null 2>&1 || die "running as root, but there is no OS user '$OS_USER' to own the cluster (the postgresql package creates it)"
    fi
}

# Set BIN without installing anything; false when there are no server binaries (then no
# server of ours can be running either).
have_server() {
    BIN=$(find_bindir)
    [[ -n $BIN && -x $BIN/pg_ctl ]]
}

server_version() {
    "$BIN/postgres" --version | sed -n 's/.*(PostgreSQL) \([0-9][0-9.]*\).*/\1/p'
}

# Run a command as the cluster's owner: the `postgres` OS user when root, else ourselves.
# The working directory is / so that the owner never starts in a directory it cannot enter.
as_owner() {
    if ! is_root; then
        (cd / && "$@")
    elif command -v runuser >/dev/null; then
        (cd / && runuser -u "$OS_USER" -- "$@")
    else
        local quoted
        quoted=$(printf '%q ' "$@")
        (cd / && su -s /bin/sh "$OS_USER" -c "$quoted")
    fi
}

# ---- a server's files ------------------------------------------------------------------

# Set the per-server paths for PORT; the data directory is the one `start` recorded, if any.
server_paths() {
    state_dir=$STATE_ROOT/postgres-$1
    data_file=$state_dir/data.path
    run_dir=$state_dir/run
    log_file=$state_dir/postgres.log
    tls_dir=$state_dir/tls
    if [[ -s $data_file ]]; then
        data_dir=$(<"$data_file")
    else
        data_dir=$state_dir/data
    fi
}

# The URL of the contactmon database (never with a password); with TLS it asks for
# verify-full against the throwaway CA.
server_url() {
    local url
    url=$(printf 'postgresql://%s@%s:%s/%s' "$SUPERUSER" "$HOST" "$1" "$DATABASE")
    if [[ -f $data_dir/contactmon.conf ]] && grep -q '^ssl = on' "$data_dir/contactmon.conf"; then
        url+="?sslmode=verify-full&sslrootcert=$tls_dir/ca.pem"
    fi
    printf '%s\n' "$url"
}

# The postmaster's pid when the cluster in data_dir is running; nothing otherwise.
running_pid() {
    [[ -f $data_dir/PG_VERSION ]] || return 0
    if as_owner "$BIN/pg_ctl" status -D "$data_dir" >/dev/null 2>&1; then
        head -n 1 "$data_dir/postmaster.pid" 2>/dev/null || true
    fi
}

# As root: make the state root enterable by the cluster's owner, and the server's own
# directories (state, socket and, when new, data) owned by it.
prepare_dirs() {
    mkdir -p "$STATE_ROOT" "$state_dir" "$run_dir" "$data_dir"
    chmod 700 "$run_dir"
    touch "$log_file"
    is_root || return 0
    if ! as_owner test -x "$STATE_ROOT" 2>/dev/null; then
        say "making $STATE_ROOT enterable for the '$OS_USER' user (chmod 755)"
        chmod 755 "$STATE_ROOT"
    fi
    chown "$OS_USER:" "$state_dir" "$run_dir" "$log_file"
    if [[ -z $(ls -A "$data_dir") ]]; then
        chown "$OS_USER:" "$data_dir"
        chmod 700 "$data_dir"
    fi
    local dir
    for dir in "$state_dir" "$data_dir"; do
        as_owner test -w "$dir" 2>/dev/null ||
            die "the '$OS_USER' user cannot write to $dir: make every directory above it enterable (chmod o+x) or choose another CONTACTMON_STATE / --data"
    done
}

# Create the cluster in data_dir once: UTF-8, C collation, superuser `postgres`.
init_cluster() {
    [[ -f $data_dir/PG_VERSION ]] && return
    [[ -z $(ls -A "$data_dir") ]] || die "$data_dir is neither empty nor a PostgreSQL cluster"
    say "creating a cluster in $data_dir (initdb)"
    printf '\n=== %s initdb: data %s ===\n' "$(date -Is)" "$data_dir" >>"$log_file"
    if ! as_owner "$BIN/initdb" -D "$data_dir" -U "$SUPERUSER" --auth=trust \
        --encoding=UTF8 --no-locale >>"$log_file" 2>&1; then
        log_tail
        die "initdb failed in $data_dir"
    fi
    printf "\n# Added by deploy/postgres.sh: port, addresses and socket, rewritten at every start.\ninclude_if_exists = 'contactmon.conf'\n" |
        as_owner tee -a "$data_dir/postgresql.conf" >/dev/null
}

# Write who may connect (pg_hba.conf), at every start: the private socket is trusted; TCP on
# 127.0.0.1 is trusted, or needs the password (CONTACTMON_PG_PASSWORD); with TLS (1) only
# hostssl lines: a connection without TLS is refused.
render_hba() {
    local tls=$1 method=trust kind=host
    [[ -n ${CONTACTMON_PG_PASSWORD:-} ]] && method=scram-sha-256
    ((tls)) && kind=hostssl
    {
        printf '%s\n' "# Written by deploy/postgres.sh at every start: a server for this machine only."
        printf '%-8s%-10s%-6s%-14s%s\n' "# TYPE" DATABASE USER ADDRESS METHOD \
            local all all "" trust "$kind" all all 127.0.0.1/32 "$method"
    } | as_owner tee "$data_dir/pg_hba.conf" >/dev/null
}

# Write the settings that depend on how this server is started; with TLS (1) the server
# certificate of tls_dir, TLS 1.2 or newer.
render_config() {
    local port=$1 tls=$2
    {
        printf "%s\nport = %s\nlisten_addresses = '%s'\nunix_socket_directories = '%s'\n" \
            "# Written by deploy/postgres.sh at every start: edit the script, not this." \
            "$port" "$HOST" "$run_dir"
        if ((tls)); then
            printf "ssl = on\nssl_cert_file = '%s'\nssl_key_file = '%s'\nssl_ca_file = '%s'\n" \
                "$tls_dir/server.pem" "$tls_dir/server.key" "$tls_dir/ca.pem"
            printf "ssl_min_protocol_version = 'TLSv1.2'\n"
        else
            printf "ssl = off\n"
        fi
    } | as_owner tee "$data_dir/contactmon.conf" >/dev/null
}

# The server's certificate and key, readable by the cluster's owner (the key 0600, its own).
prepare_tls() {
    tls_server_cert "$tls_dir" server
    if is_root; then
        chown "$OS_USER:" "$tls_dir/server.key" "$tls_dir/server.pem"
    fi
}

# Set the superuser's password (over the private socket, from stdin: never on a command line)
# when CONTACTMON_PG_PASSWORD is set.
set_password() {
    local port=$1 password=${CONTACTMON_PG_PASSWORD:-}
    [[ -n $password ]] || return 0
    "$BIN/psql" -h "$run_dir" -p "$port" -U "$SUPERUSER" -d postgres -X -q -v ON_ERROR_STOP=1 \
        >/dev/null <<<"ALTER ROLE $SUPERUSER PASSWORD '$password'" ||
        die "cannot set the password of $SUPERUSER"
}

# Create the contactmon database unless it exists (over the private socket, which is trusted).
ensure_database() {
    local port=$1 found
    found=$("$BIN/psql" -h "$run_dir" -p "$port" -U "$SUPERUSER" -d postgres -X -A -t -q \
        -c "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'") ||
        die "cannot query the server on $HOST:$port with psql"
    if [[ -z $found ]]; then
        "$BIN/psql" -h "$run_dir" -p "$port" -U "$SUPERUSER" -d postgres -X -q \
            -c "CREATE DATABASE $DATABASE" >/dev/null || die "cannot create database $DATABASE"
        say "created database $DATABASE"
    fi
}

# ---- subcommands -----------------------------------------------------------------------

cmd_install() {
    ensure_server
    say "PostgreSQL $(server_version) binaries in $BIN"
}

cmd_start() {
    local port=$1 data_arg=$2 tls=$3 pid timeout started_at
    ensure_server
    server_paths "$port"
    if [[ -n ${CONTACTMON_PG_PASSWORD:-} && ! $CONTACTMON_PG_PASSWORD =~ ^[A-Za-z0-9._~+-]{8,}$ ]]; then
        die "CONTACTMON_PG_PASSWORD must be at least 8 letters, digits or ._~+-"
    fi
    pid=$(running_pid)
    if [[ -n $pid ]]; then
        if ((tls)) && ! grep -q '^ssl = on' "$data_dir/contactmon.conf" 2>/dev/null; then
            die "a server without --tls already runs on $HOST:$port (pid $pid): stop it first"
        fi
        say "already running on $HOST:$port (pid $pid, data $data_dir); logs: $log_file"
        server_url "$port"
        return 0
    fi
    if [[ -n $data_arg ]]; then
        mkdir -p "$data_arg"
        data_dir=$(cd "$data_arg" && pwd)
    fi
    port_open "$port" && die "port $port is in use by another process (no server of ours in $state_dir)"
    ((${#run_dir} + 20 <= MAX_SOCKET_PATH)) ||
        die "the socket directory $run_dir is too long for a unix socket path: use a shorter CONTACTMON_STATE"

    if [[ -d $data_dir && ! -f $data_dir/PG_VERSION && -n $(ls -A "$data_dir") ]]; then
        die "$data_dir is neither empty nor a PostgreSQL cluster"
    fi

    prepare_dirs
    init_cluster
    printf '%s\n' "$data_dir" >"$data_file"
    ((tls)) && prepare_tls
    render_config "$port" "$tls"
    render_hba "$tls"

    say "starting PostgreSQL $(server_version) on $HOST:$port (data $data_dir)"
    say "logs: $log_file"
    printf '\n=== %s start: port %s, data %s ===\n' "$(date -Is)" "$port" "$data_dir" >>"$log_file"
    # pg_ctl waits (bounded) until the server accepts connections, and notices when it exits
    # during start-up; it detaches the server (own session, output to the log), so the server
    # outlives this script.
    timeout=${CONTACTMON_PG_START_TIMEOUT:-60}
    started_at=$SECONDS
    if ! as_owner "$BIN/pg_ctl" start --wait --timeout="$timeout" -D "$data_dir" -l "$log_file" >/dev/null; then
        sleep 0.2 # the server's last words may still be on their way to the log
        log_tail
        as_owner "$BIN/pg_ctl" stop -D "$data_dir" -m immediate >/dev/null 2>&1 || true
        die "the server did not start on $HOST:$port (it exited, or was not ready within ${timeout}s): see the log above"
    fi
    # Ready also for TCP clients on HOST (pg_ctl may have checked the socket), bounded.
    until "$BIN/pg_isready" -q -h "$HOST" -p "$port" -U "$SUPERUSER" -d postgres -t 1; do
        if ((SECONDS - started_at >= timeout)); then
            log_tail
            as_owner "$BIN/pg_ctl" stop -D "$data_dir" -m immediate >/dev/null 2>&1 || true
            die "the server did not answer on $HOST:$port within ${timeout}s (stopped it)"
        fi
        sleep 0.2
    done
    set_password "$port"
    ensure_database "$port"
    say "ready on $HOST:$port (pid $(running_pid), after $((SECONDS - started_at))s)"
    server_url "$port"
}

cmd_stop() {
    local port=$1 pid=""
    server_paths "$port"
    have_server && pid=$(running_pid)
    if [[ -z $pid ]]; then
        say "not running on port $port"
        return 0
    fi
    say "stopping the server on port $port (pid $pid)"
    if ! as_owner "$BIN/pg_ctl" stop -D "$data_dir" -m fast -w -t "$STOP_TIMEOUT" >/dev/null; then
        log_tail
        die "the server on port $port did not stop within ${STOP_TIMEOUT}s"
    fi
    say "stopped; logs: $log_file"
}

cmd_status() {
    local port=$1 pid=""
    server_paths "$port"
    have_server && pid=$(running_pid)
    if [[ -n $pid ]]; then
        say "running on $HOST:$port (pid $pid, PostgreSQL $(server_version), data $data_dir); logs: $log_file"
        server_url "$port"
        return 0
    fi
    say "not running on port $port; logs: $log_file"
    return 3
}

main() {
    (($# >= 1)) || usage
    local cmd=$1 port=$DEFAULT_PORT data_dir="" tls=0
    shift
    while (($# > 0)); do
        case $1 in
            --port) port=${2:?--port needs a value} && shift 2 ;;
            --data) data_dir=${2:?--data needs a value} && shift 2 ;;
            --tls) tls=1 && shift ;;
            -h | --help) usage ;;
            *) usage_error "unknown argument: $1" ;;
        esac
    done
    [[ $port =~ ^[0-9]+$ ]] || die "--port must be a number, got '$port'"
    [[ -z $data_dir || $cmd == start ]] || die "--data goes with start only"
    ((tls == 0)) || [[ $cmd == start ]] || die "--tls goes with start only"

    case $cmd in
        install) cmd_install ;;
        start) cmd_start "$port" "$data_dir" "$tls" ;;
        stop) cmd_stop "$port" ;;
        status) cmd_status "$port" ;;
        url) server_paths "$port" && server_url "$port" ;;
        -h | --help | help) usage ;;
        *) usage_error "unknown command: $cmd" ;;
    esac
}

main "$@"

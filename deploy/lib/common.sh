# shellcheck shell=bash
# shellcheck disable=SC2154 # pid_file and log_file are set by the script that sources this
# Helpers shared by the deploy scripts (kafka.sh, postgres.sh, prometheus.sh, alertmanager.sh):
# messages, usage, installing Debian packages, the package's own service, probing ports and
# HTTP, pid files, waiting for a started process and stopping one.
#
# Sourced, never run: each script sets SCRIPT_NAME (the prefix of its messages) and then does
#     source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# Helpers that work on an instance use the script's own globals, named in their comments:
# pid_file and log_file (set by the script's per-port paths function).

# Every instance listens on this address only, and keeps its files under this state root.
readonly HOST=127.0.0.1
# shellcheck disable=SC2034 # used by the scripts
readonly STATE_ROOT=${CONTACTMON_STATE:-/tmp/contactmon}

# The script that sourced this file: its "# Usage:" comment is what `usage` prints.
readonly SCRIPT_FILE=${BASH_SOURCE[1]}

# Extra apt-get options: APT_GET_OPTIONS go before the subcommand (install and update),
# APT_INSTALL_OPTIONS after `install`. A script may set them after sourcing this file.
APT_GET_OPTIONS=()
APT_INSTALL_OPTIONS=()

# ---- messages --------------------------------------------------------------------------

say() { printf '%s: %s\n' "$SCRIPT_NAME" "$*"; }

die() {
    printf '%s: error: %s\n' "$SCRIPT_NAME" "$*" >&2
    exit 1
}

# Print the script's usage comment (from "# Usage:" to the first bare "#") and exit 2.
usage() {
    sed -n '/^# Usage:/,/^#$/p' "$SCRIPT_FILE" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# Say what is wrong with the command line, then print the usage and exit 2.
usage_error() {
    printf '%s: %s\n' "$SCRIPT_NAME" "$*" >&2
    usage
}

is_root() { [[ $(id -u) -eq 0 ]]; }

# ---- Debian packages -------------------------------------------------------------------

# True when this script may install Debian packages: root, apt-get present, not forbidden.
apt_allowed() {
    is_root && [[ ${CONTACTMON_ALLOW_APT:-1} != 0 ]] && command -v apt-get >/dev/null
}

# Install Debian packages, refreshing the package lists once if the first try fails.
apt_install() {
    local -a apt=(apt-get "${APT_GET_OPTIONS[@]}" install -y -q "${APT_INSTALL_OPTIONS[@]}")
    say "installing with apt-get: $*"
    if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" "$@" >/dev/null; then
        apt-get "${APT_GET_OPTIONS[@]}" update -q >/dev/null
        DEBIAN_FRONTEND=noninteractive "${apt[@]}" "$@" >/dev/null
    fi
}

# After installing PACKAGE, stop its own service (and keep it from starting at boot), so that
# only the instances the script starts run: the packaged one would hold the default port.
quiet_package_service() {
    local package=$1
    if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null &&
        systemctl is-active --quiet "$package" 2>/dev/null; then
        say "stopping and disabling the package's own $package service"
        systemctl disable --now "$package" >/dev/null 2>&1 || true
    elif [[ -x /etc/init.d/$package ]] && "/etc/init.d/$package" status >/dev/null 2>&1; then
        say "stopping the package's own $package service"
        "/etc/init.d/$package" stop >/dev/null 2>&1 || true
    fi
}

# The version number that BINARY --version prints after the word "version".
binary_version() {
    "$1" --version 2>&1 | sed -n 's/.*version \([0-9][0-9.]*\).*/\1/p' | head -n 1
}

# ---- probes ----------------------------------------------------------------------------

# True when something accepts TCP connections on HOST:PORT.
port_open() {
    timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null
}

# The HTTP status code of METHOD PATH on HOST:PORT, or nothing when there is no answer.
# Plain bash (/dev/tcp), so neither curl nor wget is needed.
http_status() {
    local port=$1 method=$2 path=$3
    # shellcheck disable=SC2016 # the inner script expands its own arguments
    timeout 5 bash -c '
        exec 3<>"/dev/tcp/$0/$1" || exit 1
        printf "%s %s HTTP/1.0\r\nHost: %s:%s\r\nContent-Length: 0\r\n\r\n" "$2" "$3" "$0" "$1" >&3
        IFS=" " read -r _ code _ <&3 && printf "%s\n" "$code"
    ' "$HOST" "$port" "$method" "$path" 2>/dev/null || true
}

# True when GET /-/ready on HOST:PORT answers 200 (Prometheus and Alertmanager).
http_ready() {
    [[ $(http_status "$1" GET /-/ready) == 200 ]]
}

# True when VALUE is a Prometheus duration such as 1s, 15s, 5m, 1h30m, 35d.
is_duration() {
    [[ $1 =~ ^([0-9]+(ms|s|m|h|d|w|y))+$ ]]
}

# Fail when FILE still holds an @PLACEHOLDER@ (listed on stderr); FILE is removed then.
check_no_placeholders() {
    local file=$1
    if grep -n '@[A-Z_]*@' "$file" >&2; then
        rm -f "$file"
        die "placeholders left in the rendered configuration (above): does the script know them?"
    fi
}

# ---- an instance's process -------------------------------------------------------------

# The pid in PID_FILE when that process is alive and one of its arguments matches
# `grep GREP_ARGS...` (the command line is read one argument a line); nothing otherwise.
pid_in_file() {
    local file=$1 pid
    shift
    [[ -f $file ]] || return 0
    pid=$(<"$file")
    [[ $pid =~ ^[0-9]+$ ]] || return 0
    if kill -0 "$pid" 2>/dev/null && tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep "$@" >/dev/null; then
        printf '%s\n' "$pid"
    fi
}

# The last lines of log_file on stderr, when there is one.
log_tail() {
    if [[ -f $log_file ]]; then
        printf -- '--- last lines of %s ---\n' "$log_file" >&2
        tail -n 40 "$log_file" >&2
        printf -- '--- end of log ---\n' >&2
    fi
}

# Wait for the process PID, started at STARTED_AT (in $SECONDS) with its pid in pid_file,
# until COMMAND... succeeds, trying every INTERVAL seconds. When the process exits first, or
# TIMEOUT seconds pass (then it gets SIGTERM), show the log's tail, remove pid_file and die:
# "WHAT exited during start-up" or "LATE within TIMEOUTs (sent it SIGTERM)".
wait_until_ready() {
    local pid=$1 started_at=$2 timeout=$3 interval=$4 what=$5 late=$6
    shift 6
    until "$@"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$pid_file"
            log_tail
            die "$what exited during start-up"
        fi
        if ((SECONDS - started_at >= timeout)); then
            log_tail
            kill -TERM "$pid" 2>/dev/null || true
            rm -f "$pid_file"
            die "$late within ${timeout}s (sent it SIGTERM)"
        fi
        sleep "$interval"
    done
}

# Stop the instance on PORT whose pid is PID (empty: none runs): SIGTERM, then SIGKILL when it
# is still alive after TIMEOUT seconds, looking every TENTHS tenths of a second (5: 0.5s).
# WHAT names it in messages ("the broker"). pid_file is removed.
stop_instance() {
    local port=$1 pid=$2 what=$3 timeout=$4 tenths=$5 waited=0
    if [[ -z $pid ]]; then
        rm -f "$pid_file"
        say "not running on port $port"
        return 0
    fi
    say "stopping $what on port $port (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null && ((waited * tenths < timeout * 10)); do
        sleep "$((tenths / 10)).$((tenths % 10))"
        waited=$((waited + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "still alive after ${timeout}s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
    fi
    rm -f "$pid_file"
    say "stopped; logs: $log_file"
}

# ---- throwaway TLS ---------------------------------------------------------------------
#
# A certificate authority of one instance's own, and a server certificate it signs for this
# machine (IP 127.0.0.1, DNS localhost), made with openssl: enough for TLS that clients verify
# (sslmode=verify-full, Kafka's SASL_SSL with a CA file, Prometheus' tls_config) in development
# and tests. Never for production: there, certificates come from the organisation's CA.

# Make DIR/ca.pem and DIR/ca.key unless they are there (and valid for another day), and
# DIR/NAME.pem (certificate) and DIR/NAME.key (PKCS#8 key, unencrypted, 0600) signed by it.
# CONTACTMON_TLS_DAYS sets how long they are valid (default 30).
tls_server_cert() {
    local dir=$1 name=$2 days=${CONTACTMON_TLS_DAYS:-30} log
    command -v openssl >/dev/null || die "openssl is missing: install it (apt-get install -y openssl)"
    [[ $days =~ ^[0-9]+$ ]] || die "CONTACTMON_TLS_DAYS must be a number of days, got '$days'"
    mkdir -p "$dir"
    chmod 755 "$dir" # the keys are 0600 each; the CA certificate is for everyone
    log=$dir/openssl.log
    if ! tls_valid "$dir/ca.pem" || [[ ! -s $dir/ca.key ]]; then
        say "making a throwaway CA in $dir"
        rm -f "$dir/ca.pem" "$dir/ca.key" "$dir/$name.pem"
        (umask 077 && openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days "$days" \
            -subj "/CN=contactmon throwaway CA" -keyout "$dir/ca.key" -out "$dir/ca.pem" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign" \
            -addext "subjectKeyIdentifier=hash" >"$log" 2>&1) ||
            { cat "$log" >&2; die "openssl could not make the CA in $dir"; }
        chmod 644 "$dir/ca.pem"
    fi
    if ! tls_valid "$dir/$name.pem" || [[ ! -s $dir/$name.key ]]; then
        say "making the certificate $dir/$name.pem for 127.0.0.1 and localhost"
        printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=critical,CA:FALSE" \
            "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" \
            "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid,issuer" >"$dir/$name.ext"
        (umask 077 && openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=127.0.0.1" \
            -keyout "$dir/$name.key" -out "$dir/$name.csr" >"$log" 2>&1 &&
            openssl x509 -req -sha256 -days "$days" -in "$dir/$name.csr" -CA "$dir/ca.pem" \
                -CAkey "$dir/ca.key" -CAcreateserial -extfile "$dir/$name.ext" \
                -out "$dir/$name.pem" >>"$log" 2>&1) ||
            { cat "$log" >&2; die "openssl could not make the certificate $dir/$name.pem"; }
        chmod 644 "$dir/$name.pem"
        rm -f "$dir/$name.csr" "$dir/$name.ext"
    fi
}

# True when the certificate FILE exists and is valid for at least another day.
tls_valid() {
    [[ -s $1 ]] && openssl x509 -checkend 86400 -noout -in "$1" >/dev/null 2>&1
}

# A random password of 32 letters and digits (for logins that only scripts and tests use).
random_password() {
    local password=""
    while ((${#password} < 32)); do
        password+=$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
    done
    printf '%s\n' "${password:0:32}"
}

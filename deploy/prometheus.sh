#!/usr/bin/env bash
# Install and run a Prometheus from Debian's package with contactmon's rules, for development,
# the integration tests and the demo.
#
# `install` makes sure `prometheus` and `promtool` are there, installing the Debian package
# `prometheus` with apt-get when they are not (and stopping the package's own service, which
# would take port 9090). The package's service is never used: `start` runs /usr/bin/prometheus
# itself on 127.0.0.1 with a configuration rendered from deploy/prometheus/prometheus.yml into
# a state directory keyed by the port, so tests can run theirs on a free port next to a
# developer's. It scrapes the workers given with --targets (job `contactmon-worker`), loads
# the rules in alerts/*.rules.yml, and sends alerts to the Alertmanager given with
# --alertmanager. `render` only writes and checks that configuration (promtool check config,
# which checks the rule files too) and prints its path. `start` on a running Prometheus
# re-renders the configuration and reloads it (rules included).
#
# Usage: deploy/prometheus.sh install
#        deploy/prometheus.sh render [--port 9090] [--config FILE] [--targets HOST:PORT,...] [--alertmanager HOST:PORT] [SCRAPE SECURITY]
#        deploy/prometheus.sh start  [--port 9090] [--config FILE] [--targets HOST:PORT,...] [--alertmanager HOST:PORT] [SCRAPE SECURITY]
#        deploy/prometheus.sh stop   [--port 9090]
#        deploy/prometheus.sh status [--port 9090]
#
#   --config FILE        the configuration template (default deploy/prometheus/prometheus.yml, or
#                        prometheus-secure.yml with the options below)
#   --targets LIST       the workers' metrics endpoints, comma-separated (default 127.0.0.1:6066)
#   --alertmanager ADDR  where alerts go (default 127.0.0.1:9093)
#
#   SCRAPE SECURITY, all three together, for workers that serve /metrics over TLS with basic auth
#   (CONTACTMON_METRICS_CERTFILE, _USERNAME, _PASSWORD):
#   --ca-file FILE                  the CA certificate (PEM) that signed the workers' certificates
#   --basic-auth-user USER          the workers' CONTACTMON_METRICS_USERNAME
#   --basic-auth-password-file FILE a file with their CONTACTMON_METRICS_PASSWORD; Prometheus
#                                   reads it, the password is never in the configuration
#
# Environment:
#   CONTACTMON_STATE                 state root (default /tmp/contactmon); a Prometheus's config,
#                                    pid file, log and data go to $CONTACTMON_STATE/prometheus-<port>
#   CONTACTMON_SCRAPE_INTERVAL       scrape interval (default 15s)
#   CONTACTMON_EVALUATION_INTERVAL   interval of rule groups without their own (default: the
#                                    scrape interval)
#   CONTACTMON_PROM_RETENTION        how long data is kept (default 35d: the rules look back 30d)
#   CONTACTMON_PROM_EXTERNAL_URL     the URL in alerts' links (default http://127.0.0.1:<port>/)
#   CONTACTMON_PROM_START_TIMEOUT    seconds to wait for a started Prometheus (default 60)
#   CONTACTMON_ALLOW_APT             0 forbids installing the package with apt-get (only ever as root)
#
# Exit codes: 0 success (status: running), 1 failure, 2 usage error, 3 status: not running.
set -euo pipefail

readonly SCRIPT_NAME=prometheus.sh
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

readonly DEFAULT_PORT=9090
readonly DEFAULT_TARGETS=127.0.0.1:6066
readonly DEFAULT_ALERTMANAGER=127.0.0.1:9093
readonly PACKAGE=prometheus
readonly STOP_TIMEOUT=30

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly DEFAULT_TEMPLATE=$here/prometheus/prometheus.yml
readonly SECURE_TEMPLATE=$here/prometheus/prometheus-secure.yml
RULE_GLOB="$(cd "$here/.." && pwd)/alerts/*.rules.yml" # a glob for Prometheus, not the shell
readonly RULE_GLOB

# ---- prerequisites ---------------------------------------------------------------------

# apt-get installs the package without its recommendations (the node exporter), and waits for
# another apt-get to finish.
APT_GET_OPTIONS=(-o DPkg::Lock::Timeout=300)
APT_INSTALL_OPTIONS=(--no-install-recommends)

# Set PROM_BIN and PROMTOOL to the binaries; nothing when they are missing.
find_binaries() {
    PROM_BIN=$(command -v prometheus || true)
    PROMTOOL=$(command -v promtool || true)
}

# Set PROM_BIN and PROMTOOL, installing the Debian package when allowed.
ensure_binaries() {
    find_binaries
    if [[ -z $PROM_BIN || -z $PROMTOOL ]]; then
        apt_allowed || die "Prometheus (prometheus, promtool) is missing: install it (apt-get install -y $PACKAGE), or run as root without CONTACTMON_ALLOW_APT=0"
        apt_install "$PACKAGE"
        # The package's own service listens on 0.0.0.0:9090 with /etc/prometheus/prometheus.yml.
        quiet_package_service "$PACKAGE"
        find_binaries
        [[ -n $PROM_BIN && -n $PROMTOOL ]] || die "apt-get installed $PACKAGE, but prometheus or promtool is still not on PATH"
    fi
}

prom_version() {
    binary_version "$PROM_BIN"
}

# ---- an instance's files ---------------------------------------------------------------

# Set the per-instance paths for PORT.
instance_paths() {
    state_dir=$STATE_ROOT/prometheus-$1
    config_file=$state_dir/prometheus.yml
    pid_file=$state_dir/prometheus.pid
    data_dir=$state_dir/data
    log_file=$state_dir/prometheus.log
}

# The pid in the pid file when that process is a live Prometheus with this instance's
# configuration; nothing otherwise.
running_pid() {
    pid_in_file "$pid_file" -Fx -- "--config.file=$config_file"
}

# A Prometheus duration such as 1s, 15s, 1m, 35d.
check_duration() {
    is_duration "$2" || die "$1 must be a duration like 15s or 1m, got '$2'"
}

check_address() {
    [[ $2 =~ ^[A-Za-z0-9._-]+:[0-9]+$ ]] || die "$1 must be host:port, got '$2'"
}

# An absolute path to an existing, readable FILE, for OPTION; dies otherwise. Paths go into the
# configuration between single quotes and through sed, so ' and | are refused.
readable_file() {
    local option=$1 file=$2
    [[ -f $file && -r $file ]] || die "$option: no readable file at $file"
    [[ $file != *[\'\|]* ]] || die "$option: the path may not contain ' or |"
    printf '%s\n' "$(cd "$(dirname "$file")" && pwd)/$(basename "$file")"
}

# Write the configuration from TEMPLATE into OUT with every @PLACEHOLDER@ replaced. The scrape
# security (CA_FILE, AUTH_USER, PASSWORD_FILE) may be empty: then the template has none of it.
render_config() {
    local template=$1 targets=$2 alertmanager=$3 out=$4 scrape evaluation target list=""
    [[ -f $template ]] || die "no configuration template at $template"
    scrape=${CONTACTMON_SCRAPE_INTERVAL:-15s}
    evaluation=${CONTACTMON_EVALUATION_INTERVAL:-$scrape}
    check_duration CONTACTMON_SCRAPE_INTERVAL "$scrape"
    check_duration CONTACTMON_EVALUATION_INTERVAL "$evaluation"
    check_address --alertmanager "$alertmanager"
    local -a addresses
    IFS=, read -r -a addresses <<<"$targets"
    ((${#addresses[@]} > 0)) || die "--targets must name at least one host:port"
    for target in "${addresses[@]}"; do
        check_address --targets "$target"
        list+="${list:+, }'$target'"
    done

    mkdir -p "$(dirname "$out")"
    local tmp
    tmp=$(mktemp "$out.XXXXXX")
    {
        printf '# Written by deploy/prometheus.sh from %s: edit that, not this.\n' "$template"
        # The template's header comment (lines starting with #) goes; the rest is kept.
        sed -e '/^#/d' \
            -e "s|@SCRAPE_INTERVAL@|$scrape|g" \
            -e "s|@EVALUATION_INTERVAL@|$evaluation|g" \
            -e "s|@RULE_FILES@|$RULE_GLOB|g" \
            -e "s|@WORKER_TARGETS@|$list|g" \
            -e "s|@ALERTMANAGER@|$alertmanager|g" \
            -e "s|@CA_FILE@|$CA_FILE|g" \
            -e "s|@BASIC_AUTH_USER@|$AUTH_USER|g" \
            -e "s|@PASSWORD_FILE@|$PASSWORD_FILE|g" \
            "$template"
    } >"$tmp"
    if grep -q "@CA_FILE@\|@BASIC_AUTH_USER@\|@PASSWORD_FILE@" "$template" &&
        [[ -z $CA_FILE || -z $AUTH_USER || -z $PASSWORD_FILE ]]; then
        rm -f "$tmp"
        die "$template scrapes over TLS with basic auth: give --ca-file, --basic-auth-user and --basic-auth-password-file"
    fi
    check_no_placeholders "$tmp"
    mv "$tmp" "$out"
}

# Check a rendered configuration (and the rule files it names) with promtool.
check_config() {
    local file=$1 output
    if ! output=$("$PROMTOOL" check config "$file" 2>&1); then
        printf '%s\n' "$output" >&2
        die "promtool check config rejects $file (above)"
    fi
}

# ---- subcommands -----------------------------------------------------------------------

cmd_install() {
    ensure_binaries
    say "Prometheus $(prom_version): $PROM_BIN, $PROMTOOL"
}

cmd_render() {
    local port=$1 template=$2 targets=$3 alertmanager=$4
    instance_paths "$port"
    render_config "$template" "$targets" "$alertmanager" "$config_file"
    find_binaries
    if [[ -n $PROMTOOL ]]; then
        check_config "$config_file"
    else
        say "promtool is missing: the configuration was not checked"
    fi
    printf '%s\n' "$config_file"
}

# Re-render the configuration of a running instance and reload it (the rules may have changed
# even when the configuration did not).
reload_running() {
    local port=$1 pid=$2 template=$3 targets=$4 alertmanager=$5 candidate code
    candidate=$state_dir/prometheus.yml.candidate
    render_config "$template" "$targets" "$alertmanager" "$candidate"
    check_config "$candidate"
    mv "$candidate" "$config_file"
    code=$(http_status "$port" POST /-/reload)
    if [[ $code != 200 ]]; then
        log_tail
        die "the running Prometheus (pid $pid) did not reload its configuration (HTTP ${code:-no answer})"
    fi
    say "already running on http://$HOST:$port/ (pid $pid); configuration and rules reloaded; logs: $log_file"
}

cmd_start() {
    local port=$1 template=$2 targets=$3 alertmanager=$4 pid timeout started_at retention external_url
    ensure_binaries
    instance_paths "$port"
    mkdir -p "$state_dir"
    pid=$(running_pid)
    if [[ -n $pid ]]; then
        reload_running "$port" "$pid" "$template" "$targets" "$alertmanager"
        return 0
    fi
    port_open "$port" && die "port $port is in use by another process (no Prometheus of ours in $state_dir)"

    render_config "$template" "$targets" "$alertmanager" "$config_file"
    check_config "$config_file"
    retention=${CONTACTMON_PROM_RETENTION:-35d}
    check_duration CONTACTMON_PROM_RETENTION "$retention"
    external_url=${CONTACTMON_PROM_EXTERNAL_URL:-http://$HOST:$port/}
    mkdir -p "$data_dir"
    printf '\n=== %s start: port %s, config %s ===\n' "$(date -Is)" "$port" "$config_file" >>"$log_file"
    say "starting Prometheus $(prom_version) on $HOST:$port (config $config_file, targets $targets, alertmanager $alertmanager)"
    say "logs: $log_file"
    # setsid: it outlives this script and a Ctrl-C in the shell that started it.
    setsid "$PROM_BIN" \
        "--config.file=$config_file" \
        "--storage.tsdb.path=$data_dir" \
        "--storage.tsdb.retention.time=$retention" \
        "--web.listen-address=$HOST:$port" \
        "--web.external-url=$external_url" \
        --web.enable-lifecycle \
        </dev/null >>"$log_file" 2>&1 &
    pid=$!
    printf '%s\n' "$pid" >"$pid_file"

    timeout=${CONTACTMON_PROM_START_TIMEOUT:-60}
    started_at=$SECONDS
    wait_until_ready "$pid" "$started_at" "$timeout" 0.2 Prometheus \
        "Prometheus was not ready on $HOST:$port" http_ready "$port"
    say "ready on http://$HOST:$port/ (pid $pid, after $((SECONDS - started_at))s)"
}

cmd_stop() {
    local port=$1
    instance_paths "$port"
    stop_instance "$port" "$(running_pid)" "the Prometheus" "$STOP_TIMEOUT" 2
}

cmd_status() {
    local port=$1 pid
    instance_paths "$port"
    pid=$(running_pid)
    if [[ -n $pid ]]; then
        say "running on http://$HOST:$port/ (pid $pid, config $config_file); logs: $log_file"
        return 0
    fi
    say "not running on port $port; logs: $log_file"
    return 3
}

main() {
    (($# >= 1)) || usage
    local cmd=$1 port=$DEFAULT_PORT template="" targets=$DEFAULT_TARGETS
    local alertmanager=$DEFAULT_ALERTMANAGER start_options=0
    CA_FILE="" AUTH_USER="" PASSWORD_FILE=""
    shift
    while (($# > 0)); do
        case $1 in
            --port) port=${2:?--port needs a value} && shift 2 ;;
            --config) template=${2:?--config needs a value} && start_options=1 && shift 2 ;;
            --targets) targets=${2:?--targets needs a value} && start_options=1 && shift 2 ;;
            --alertmanager) alertmanager=${2:?--alertmanager needs a value} && start_options=1 && shift 2 ;;
            --ca-file) CA_FILE=${2:?--ca-file needs a value} && start_options=1 && shift 2 ;;
            --basic-auth-user) AUTH_USER=${2:?--basic-auth-user needs a value} && start_options=1 && shift 2 ;;
            --basic-auth-password-file) PASSWORD_FILE=${2:?--basic-auth-password-file needs a value} && start_options=1 && shift 2 ;;
            -h | --help) usage ;;
            *) usage_error "unknown argument: $1" ;;
        esac
    done
    [[ $port =~ ^[0-9]+$ ]] || die "--port must be a number, got '$port'"
    if [[ $cmd != start && $cmd != render ]]; then
        ((start_options == 0)) || die "--config, --targets, --alertmanager and the scrape security options go with start and render only"
    fi
    if [[ -n $CA_FILE$AUTH_USER$PASSWORD_FILE ]]; then
        [[ -n $CA_FILE && -n $AUTH_USER && -n $PASSWORD_FILE ]] ||
            die "--ca-file, --basic-auth-user and --basic-auth-password-file go together"
        CA_FILE=$(readable_file --ca-file "$CA_FILE")
        PASSWORD_FILE=$(readable_file --basic-auth-password-file "$PASSWORD_FILE")
        [[ $AUTH_USER =~ ^[A-Za-z0-9._@-]+$ ]] || die "--basic-auth-user may hold letters, digits and ._@- only"
        template=${template:-$SECURE_TEMPLATE}
    fi
    template=${template:-$DEFAULT_TEMPLATE}
    if [[ $template != "$DEFAULT_TEMPLATE" && $template != "$SECURE_TEMPLATE" ]]; then
        [[ -f $template ]] || die "--config: no such file: $template"
        template=$(cd "$(dirname "$template")" && pwd)/$(basename "$template")
    fi

    case $cmd in
        install) cmd_install ;;
        render) cmd_render "$port" "$template" "$targets" "$alertmanager" ;;
        start) cmd_start "$port" "$template" "$targets" "$alertmanager" ;;
        stop) cmd_stop "$port" ;;
        status) cmd_status "$port" ;;
        -h | --help | help) usage ;;
        *) usage_error "unknown command: $cmd" ;;
    esac
}

main "$@"

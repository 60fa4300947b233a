#!/usr/bin/env bash
# Install and run a Prometheus Alertmanager from Debian's package, with contactmon's routing,
# for development, the integration tests and the demo.
#
# `install` makes sure `prometheus-alertmanager` and `amtool` are there, installing the Debian
# package `prometheus-alertmanager` with apt-get when they are not (and stopping the package's
# own service, which would take port 9093). `render` turns the configuration template
# (deploy/alertmanager/alertmanager.yml) into a real configuration in a state directory keyed
# by the port, with the templates and the holiday list beside it, and checks it with amtool.
# `start` renders and runs an Alertmanager of its own on 127.0.0.1 without clustering, so
# tests can run theirs on a free port next to a developer's; on a running one it re-renders
# and reloads the configuration when it changed. How the routing works: alerts/ROUTING.md.
#
# Usage: deploy/alertmanager.sh install
#        deploy/alertmanager.sh render [--port 9093] [--webhook-url URL] [--config FILE]
#        deploy/alertmanager.sh start  [--port 9093] [--webhook-url URL] [--config FILE]
#        deploy/alertmanager.sh stop   [--port 9093]
#        deploy/alertmanager.sh status [--port 9093]
#
#   --webhook-url URL  send both webhooks (on-call and ticket) to URL (tests point it at
#                      their receiver); default: CONTACTMON_AM_ONCALL_URL / _TICKET_URL
#   --config FILE      the configuration template (default deploy/alertmanager/alertmanager.yml);
#                      its directory holds templates/*.tmpl and non_working_days.yml
#
# Environment:
#   CONTACTMON_STATE              state root (default /tmp/contactmon); an Alertmanager's
#                                 config, templates, pid file, log and data go to
#                                 $CONTACTMON_STATE/alertmanager-<port>
#   CONTACTMON_AM_ONCALL_URL      the on-call tool's webhook (default a placeholder on example.nl)
#   CONTACTMON_AM_TICKET_URL      the ticket system's webhook (default a placeholder on example.nl)
#   CONTACTMON_AM_SMARTHOST       the mail relay, host:port (default smtp.example.nl:587)
#   CONTACTMON_AM_GROUP_WAIT      wait before a new group's first notification (default 30s)
#   CONTACTMON_AM_GROUP_INTERVAL  wait before a group's next notification (default 5m)
#   CONTACTMON_AM_ALWAYS_OPEN     1 renders without the office-hours and holiday muting of
#                                 business pages: FOR TESTS ONLY, never in production
#   CONTACTMON_AM_EXTERNAL_URL    the URL in notifications' links (default http://127.0.0.1:<port>/)
#   CONTACTMON_AM_START_TIMEOUT   seconds to wait for a started Alertmanager (default 30)
#   CONTACTMON_ALLOW_APT          0 forbids installing the package with apt-get (only ever as root)
#
# Exit codes: 0 success (status: running), 1 failure, 2 usage error, 3 status: not running.
set -euo pipefail

readonly SCRIPT_NAME=alertmanager.sh
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

readonly DEFAULT_PORT=9093
readonly PACKAGE=prometheus-alertmanager
readonly STOP_TIMEOUT=30
readonly TIME_ZONE=Europe/Amsterdam

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly DEFAULT_TEMPLATE=$here/alertmanager/alertmanager.yml

# ---- prerequisites ---------------------------------------------------------------------

# Set AM_BIN and AMTOOL to the binaries; nothing when they are missing.
find_binaries() {
    AM_BIN=$(command -v prometheus-alertmanager || command -v alertmanager || true)
    AMTOOL=$(command -v amtool || true)
}

# Set AM_BIN and AMTOOL, installing the Debian package when allowed.
ensure_binaries() {
    find_binaries
    if [[ -z $AM_BIN || -z $AMTOOL ]]; then
        apt_allowed || die "Alertmanager (prometheus-alertmanager, amtool) is missing: install it (apt-get install -y $PACKAGE), or run as root without CONTACTMON_ALLOW_APT=0"
        apt_install "$PACKAGE"
        # The package's own service listens on 0.0.0.0:9093 with /etc/prometheus/alertmanager.yml.
        quiet_package_service "$PACKAGE"
        find_binaries
        [[ -n $AM_BIN && -n $AMTOOL ]] || die "apt-get installed $PACKAGE, but prometheus-alertmanager or amtool is still not on PATH"
    fi
}

am_version() {
    binary_version "$AM_BIN"
}

# ---- an Alertmanager's files -----------------------------------------------------------

# Set the per-instance paths for PORT.
instance_paths() {
    state_dir=$STATE_ROOT/alertmanager-$1
    config_file=$state_dir/alertmanager.yml
    pid_file=$state_dir/alertmanager.pid
    data_dir=$state_dir/data
    log_file=$state_dir/alertmanager.log
}

# The pid in the pid file when that process is a live Alertmanager with this instance's
# configuration; nothing otherwise.
running_pid() {
    pid_in_file "$pid_file" -Fx -- "--config.file=$config_file"
}

# Escape a value for the replacement side of a sed s|||: backslash, ampersand and the bar.
sed_escape() {
    printf '%s' "$1" | sed -e 's/[\\&|]/\\&/g'
}

# A Prometheus duration such as 1s, 30s, 5m, 1h30m.
check_duration() {
    is_duration "$2" || die "$1 must be a duration like 30s or 5m, got '$2'"
}

check_url() {
    [[ $2 =~ ^https?://[^[:space:]\'\"]+$ ]] || die "$1 must be an http(s) URL, got '$2'"
}

# Write the configuration for this instance from TEMPLATE into OUT, with the templates
# directory beside it; every @PLACEHOLDER@ replaced, the holiday interval spliced in.
render_config() {
    local template=$1 webhook_url=$2 out=$3 conf_dir fragment oncall ticket smarthost wait interval
    [[ -f $template ]] || die "no configuration template at $template"
    conf_dir=$(cd "$(dirname "$template")" && pwd)
    fragment=$conf_dir/non_working_days.yml
    oncall=${webhook_url:-${CONTACTMON_AM_ONCALL_URL:-https://oncall.example.nl/api/v1/alertmanager}}
    ticket=${webhook_url:-${CONTACTMON_AM_TICKET_URL:-https://tickets.example.nl/api/v1/alertmanager}}
    smarthost=${CONTACTMON_AM_SMARTHOST:-smtp.example.nl:587}
    wait=${CONTACTMON_AM_GROUP_WAIT:-30s}
    interval=${CONTACTMON_AM_GROUP_INTERVAL:-5m}
    check_url "the on-call webhook URL" "$oncall"
    check_url "the ticket webhook URL" "$ticket"
    [[ $smarthost =~ ^[A-Za-z0-9.-]+:[0-9]+$ ]] || die "CONTACTMON_AM_SMARTHOST must be host:port, got '$smarthost'"
    check_duration CONTACTMON_AM_GROUP_WAIT "$wait"
    check_duration CONTACTMON_AM_GROUP_INTERVAL "$interval"
    if grep -qx '# @FEESTDAGEN@' "$template"; then
        [[ -f $fragment ]] || die "$template asks for the holiday list, but there is no $fragment (run deploy/alertmanager/non_working_days.py)"
    fi

    local -a gate=()
    if [[ ${CONTACTMON_AM_ALWAYS_OPEN:-0} == 1 ]]; then
        say "CONTACTMON_AM_ALWAYS_OPEN=1: business pages are NOT muted outside office hours (for tests only)"
        gate=(-e '/# office-hours gate$/d')
    fi

    mkdir -p "$(dirname "$out")"
    local tmp
    tmp=$(mktemp "$out.XXXXXX")
    {
        printf '# Written by deploy/alertmanager.sh from %s: edit that, not this.\n' "$template"
        if [[ ${CONTACTMON_AM_ALWAYS_OPEN:-0} == 1 ]]; then
            printf '# CONTACTMON_AM_ALWAYS_OPEN=1: office-hours muting left out (tests only).\n'
        fi
        # The marker line is replaced by the fragment; the template's own header comment (the
        # lines starting with #) goes, its indented comments stay.
        sed -e '/^# @FEESTDAGEN@$/{r '"$fragment" -e 'd}' -e '/^#/d' "${gate[@]}" \
            -e "s|@ONCALL_WEBHOOK_URL@|$(sed_escape "$oncall")|g" \
            -e "s|@TICKET_WEBHOOK_URL@|$(sed_escape "$ticket")|g" \
            -e "s|@SMTP_SMARTHOST@|$(sed_escape "$smarthost")|g" \
            -e "s|@GROUP_WAIT@|$wait|g" \
            -e "s|@GROUP_INTERVAL@|$interval|g" \
            "$template"
    } >"$tmp"
    check_no_placeholders "$tmp"
    rm -rf "$(dirname "$out")/templates"
    if [[ -d $conf_dir/templates ]]; then
        cp -r "$conf_dir/templates" "$(dirname "$out")/templates"
    fi
    mv "$tmp" "$out"
}

# Check a rendered configuration with amtool; on failure show what amtool said.
check_config() {
    local file=$1 output
    if ! output=$("$AMTOOL" check-config "$file" 2>&1); then
        printf '%s\n' "$output" >&2
        die "amtool check-config rejects $file (above)"
    fi
}

# ---- subcommands -----------------------------------------------------------------------

cmd_install() {
    ensure_binaries
    say "Alertmanager $(am_version): $AM_BIN, $AMTOOL"
}

cmd_render() {
    local port=$1 template=$2 webhook_url=$3
    instance_paths "$port"
    render_config "$template" "$webhook_url" "$config_file"
    find_binaries
    if [[ -n $AMTOOL ]]; then
        check_config "$config_file"
    else
        say "amtool is missing: the configuration was not checked"
    fi
    printf '%s\n' "$config_file"
}

# A checksum of the live configuration and its templates, to see whether a render changed them.
config_fingerprint() {
    cat "$config_file" "$state_dir"/templates/* 2>/dev/null | cksum
}

# Re-render the configuration of a running instance and reload it when anything changed.
reload_if_changed() {
    local port=$1 pid=$2 template=$3 webhook_url=$4 before candidate code
    before=$(config_fingerprint)
    candidate=$state_dir/alertmanager.yml.candidate
    render_config "$template" "$webhook_url" "$candidate"
    check_config "$candidate"
    mv "$candidate" "$config_file"
    if [[ $(config_fingerprint) == "$before" ]]; then
        say "already running on http://$HOST:$port/ (pid $pid); logs: $log_file"
        return 0
    fi
    code=$(http_status "$port" POST /-/reload)
    if [[ $code != 200 ]]; then
        log_tail
        die "the running Alertmanager (pid $pid) did not reload the new configuration (HTTP ${code:-no answer})"
    fi
    say "already running on http://$HOST:$port/ (pid $pid); its configuration changed and was reloaded; logs: $log_file"
}

cmd_start() {
    local port=$1 template=$2 webhook_url=$3 pid timeout started_at external_url
    ensure_binaries
    instance_paths "$port"
    mkdir -p "$state_dir"
    pid=$(running_pid)
    if [[ -n $pid ]]; then
        reload_if_changed "$port" "$pid" "$template" "$webhook_url"
        return 0
    fi
    port_open "$port" && die "port $port is in use by another process (no Alertmanager of ours in $state_dir)"

    render_config "$template" "$webhook_url" "$config_file"
    check_config "$config_file"
    mkdir -p "$data_dir"
    external_url=${CONTACTMON_AM_EXTERNAL_URL:-http://$HOST:$port/}
    printf '\n=== %s start: port %s, config %s ===\n' "$(date -Is)" "$port" "$config_file" >>"$log_file"
    say "starting Alertmanager $(am_version) on $HOST:$port (config $config_file)"
    say "logs: $log_file"
    # setsid: it outlives this script and a Ctrl-C in the shell that started it. TZ: the
    # notification templates show times in Dutch time. An empty cluster address: no gossip.
    TZ=$TIME_ZONE setsid "$AM_BIN" \
        "--config.file=$config_file" \
        "--storage.path=$data_dir" \
        "--web.listen-address=$HOST:$port" \
        "--web.external-url=$external_url" \
        "--cluster.listen-address=" \
        </dev/null >>"$log_file" 2>&1 &
    pid=$!
    printf '%s\n' "$pid" >"$pid_file"

    timeout=${CONTACTMON_AM_START_TIMEOUT:-30}
    started_at=$SECONDS
    wait_until_ready "$pid" "$started_at" "$timeout" 0.2 Alertmanager \
        "Alertmanager was not ready on $HOST:$port" http_ready "$port"
    say "ready on http://$HOST:$port/ (pid $pid, after $((SECONDS - started_at))s)"
}

cmd_stop() {
    local port=$1
    instance_paths "$port"
    stop_instance "$port" "$(running_pid)" "the Alertmanager" "$STOP_TIMEOUT" 2
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
    local cmd=$1 port=$DEFAULT_PORT template=$DEFAULT_TEMPLATE webhook_url="" config_given=0
    shift
    while (($# > 0)); do
        case $1 in
            --port) port=${2:?--port needs a value} && shift 2 ;;
            --webhook-url) webhook_url=${2:?--webhook-url needs a value} && shift 2 ;;
            --config) template=${2:?--config needs a value} && config_given=1 && shift 2 ;;
            -h | --help) usage ;;
            *) usage_error "unknown argument: $1" ;;
        esac
    done
    [[ $port =~ ^[0-9]+$ ]] || die "--port must be a number, got '$port'"
    if [[ $cmd != start && $cmd != render ]]; then
        [[ -z $webhook_url && $config_given == 0 ]] || die "--webhook-url and --config go with start and render only"
    fi
    [[ -z $webhook_url ]] || check_url --webhook-url "$webhook_url"
    if [[ $config_given == 1 ]]; then
        [[ -f $template ]] || die "--config: no such file: $template"
        template=$(cd "$(dirname "$template")" && pwd)/$(basename "$template")
    fi

    case $cmd in
        install) cmd_install ;;
        render) cmd_render "$port" "$template" "$webhook_url" ;;
        start) cmd_start "$port" "$template" "$webhook_url" ;;
        stop) cmd_stop "$port" ;;
        status) cmd_status "$port" ;;
        -h | --help | help) usage ;;
        *) usage_error "unknown command: $cmd" ;;
    esac
}

main "$@"

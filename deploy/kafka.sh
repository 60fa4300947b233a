#!/usr/bin/env bash
# Install and run a single-node Apache Kafka broker (KRaft, broker + controller in one JVM)
# from Maven Central jars, for development, the integration tests and the demo.
#
# There is no Kafka tarball here: `install` lets Maven copy the jars that
# deploy/kafka/pom.xml names into a cache outside the repo, and `start` runs kafka.Kafka
# from them with the settings in deploy/kafka/server.properties (the one place they are
# kept). Each broker lives in its own state directory, keyed by its port, so tests can run
# their own broker on a free port next to a developer's.
#
# Usage: deploy/kafka.sh install
#        deploy/kafka.sh start  [--port 9092] [--controller-port PORT] [--data DIR] [--secure]
#        deploy/kafka.sh stop   [--port 9092]
#        deploy/kafka.sh status [--port 9092]
#
#   --secure  the client listener is SASL_SSL instead of PLAINTEXT: TLS with a throwaway CA and
#             broker certificate (openssl, in <state dir>/tls; the CA is tls/ca.pem) and
#             SCRAM-SHA-512 logins, created when the storage is formatted (deploy/kafka/
#             secure.properties). Writes <state dir>/client.env (0600): the CONTACTMON_*
#             settings of a client, password included, for `set -a; . client.env; set +a`.
#             A storage formatted with --secure is only started with it, and the reverse.
#
# Environment:
#   CONTACTMON_CACHE          jar cache root (default $HOME/.cache/contactmon); the jars go
#                             to $CONTACTMON_CACHE/kafka-<version>/libs
#   CONTACTMON_STATE          state root (default /tmp/contactmon); a broker's config, pid
#                             file, logs and (by default) data go to $CONTACTMON_STATE/kafka-<port>
#   CONTACTMON_KAFKA_VERSION  Kafka version (default: kafka.version in deploy/kafka/pom.xml)
#   CONTACTMON_KAFKA_START_TIMEOUT  seconds to wait for a started broker (default 60)
#   CONTACTMON_KAFKA_SCRAM_USER      --secure: the clients' SCRAM user (default contactmon)
#   CONTACTMON_KAFKA_SCRAM_PASSWORD  --secure: its password, letters, digits and ._~+- (default:
#                             random, made when the storage is formatted, kept in client.env)
#   CONTACTMON_TLS_DAYS       --secure: days the throwaway certificates are valid (default 30)
#   CONTACTMON_ALLOW_APT      0 forbids installing Java or Maven with apt-get (only ever as root)
#   KAFKA_HEAP_OPTS           JVM heap options (default -Xms256m -Xmx512m)
#   KAFKA_JVM_OPTS            extra JVM options
#   JAVA_HOME                 the Java to use (default: java on PATH); Kafka 4 needs 17+
#
# Exit codes: 0 success (status: running), 1 failure, 2 usage error, 3 status: not running.
set -euo pipefail

readonly SCRIPT_NAME=kafka.sh
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

readonly MIN_JAVA=17
readonly STOP_TIMEOUT=30

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly KAFKA_CONF_DIR=$here/kafka
readonly POM=$KAFKA_CONF_DIR/pom.xml
readonly TEMPLATE=$KAFKA_CONF_DIR/server.properties
readonly SECURE_TEMPLATE=$KAFKA_CONF_DIR/secure.properties
readonly SCRAM_MECHANISM=SCRAM-SHA-512
readonly BROKER_USER=kafka-broker
readonly LOG4J_CONFIG=$KAFKA_CONF_DIR/log4j2.yaml

# The Kafka version: the environment's, else the pom's kafka.version property.
kafka_version() {
    if [[ -n ${CONTACTMON_KAFKA_VERSION:-} ]]; then
        printf '%s\n' "$CONTACTMON_KAFKA_VERSION"
        return
    fi
    local v
    v=$(sed -n 's:.*<kafka\.version>\(.*\)</kafka\.version>.*:\1:p' "$POM")
    [[ -n $v ]] || die "no <kafka.version> in $POM"
    printf '%s\n' "$v"
}

VERSION=$(kafka_version)
readonly VERSION
readonly CACHE_DIR=${CONTACTMON_CACHE:-${HOME:-/tmp}/.cache/contactmon}/kafka-$VERSION
readonly LIBS=$CACHE_DIR/libs

# ---- prerequisites ---------------------------------------------------------------------

java_bin() {
    if [[ -n ${JAVA_HOME:-} ]]; then
        printf '%s\n' "$JAVA_HOME/bin/java"
    else
        printf '%s\n' java
    fi
}

# Make sure a Java of at least MIN_JAVA runs; install one when allowed.
ensure_java() {
    local java major
    java=$(java_bin)
    if ! command -v "$java" >/dev/null; then
        apt_allowed || die "Java $MIN_JAVA+ is missing: install it (apt-get install -y openjdk-17-jre-headless) or set JAVA_HOME"
        apt_install openjdk-17-jre-headless
    fi
    # `java -version` prints e.g.: openjdk version "17.0.15" 2025-04-15 (or "1.8.0_392").
    major=$("$java" -version 2>&1 | sed -n 's/.* version "\([0-9][0-9.]*\).*/\1/p' | head -n 1)
    major=${major#1.}
    major=${major%%.*}
    [[ $major =~ ^[0-9]+$ ]] || die "cannot read the Java version from '$java -version'"
    ((major >= MIN_JAVA)) || die "Kafka $VERSION needs Java $MIN_JAVA+, found Java $major ($java); set JAVA_HOME"
}

# Make sure Maven is there to fetch the jars; install it when allowed.
ensure_mvn() {
    command -v mvn >/dev/null && return
    apt_allowed || die "Maven (mvn) is missing: install it (apt-get install -y maven), or run as root without CONTACTMON_ALLOW_APT=0"
    apt_install maven
}

# ---- install ---------------------------------------------------------------------------

# Copy the broker's jars into LIBS once; a finished copy is marked by LIBS/.complete.
install_libs() {
    if [[ -f $LIBS/.complete ]]; then
        say "Kafka $VERSION jars already in $LIBS"
        return
    fi
    ensure_java
    ensure_mvn
    mkdir -p "$CACHE_DIR"
    # One installer at a time; a second one waits and then finds the jars there.
    exec 9>"$CACHE_DIR/.install.lock"
    flock 9
    if [[ ! -f $LIBS/.complete ]]; then
        say "fetching Kafka $VERSION jars with Maven into $LIBS"
        local tmp mvn_log
        rm -rf "$CACHE_DIR"/libs.partial.* # left by an install that was killed
        tmp=$(mktemp -d "$CACHE_DIR/libs.partial.XXXXXX")
        mvn_log=$CACHE_DIR/install.log
        if ! mvn -B -Dstyle.color=never -f "$POM" "-Dkafka.version=$VERSION" \
            dependency:copy-dependencies -DincludeScope=runtime "-DoutputDirectory=$tmp" \
            >"$mvn_log" 2>&1; then
            rm -rf "$tmp"
            tail -n 40 "$mvn_log" >&2
            die "Maven could not fetch Kafka $VERSION (full log: $mvn_log)"
        fi
        [[ -f $tmp/kafka_2.13-$VERSION.jar ]] || die "Maven ran but $tmp has no kafka_2.13-$VERSION.jar"
        touch "$tmp/.complete"
        rm -rf "$LIBS"
        mv "$tmp" "$LIBS"
    fi
    exec 9>&-
    say "Kafka $VERSION jars in $LIBS"
}

# ---- a broker's files ------------------------------------------------------------------

# Set the per-broker paths for PORT.
broker_paths() {
    state_dir=$STATE_ROOT/kafka-$1
    pid_file=$state_dir/kafka.pid
    config_file=$state_dir/server.properties
    log_dir=$state_dir/logs
    log_file=$log_dir/server.log
    tls_dir=$state_dir/tls
    client_env=$state_dir/client.env
    secrets_file=$state_dir/secure.secrets
}

# The pid in the pid file when that process is a live Kafka broker; nothing otherwise.
running_pid() {
    pid_in_file "$pid_file" 'kafka\.Kafka'
}

# True when the broker answers on PORT and logged the end of its start-up after byte OFFSET
# of the log (so not an earlier run's, in the same log).
broker_ready() {
    port_open "$1" && tail -c "+$(($2 + 1))" "$log_file" | grep 'Kafka Server started' >/dev/null
}

# Write the broker's server.properties from the template (its comments left out); with SECURE
# (1) the client listener is SASL_SSL and secure.properties is appended. The file is 0600: in
# secure mode it holds the broker's own SCRAM password.
render_config() {
    local port=$1 controller_port=$2 data_dir=$3 secure=$4 listener=PLAINTEXT fragment
    ((secure)) && listener=SASL_SSL
    (
        umask 077
        {
            printf '# Written by deploy/kafka.sh from %s: edit that, not this.\n' "$TEMPLATE"
            sed -e '/^#/d' -e "s|@PORT@|$port|g" -e "s|@CONTROLLER_PORT@|$controller_port|g" \
                -e "s|@HOST@|$HOST|g" -e "s|@ADVERTISED_HOST@|$HOST|g" -e "s|@DATA_DIR@|$data_dir|g" \
                -e "s|@LISTENER@|$listener|g" "$TEMPLATE"
            if ((secure)); then
                printf '\n# --- from %s ---\n' "$SECURE_TEMPLATE"
                fragment=$(sed -e '/^#/d' -e "s|@TLS_DIR@|$tls_dir|g" \
                    -e "s|@BROKER_USER@|$BROKER_USER|g" "$SECURE_TEMPLATE")
                # the password by bash, not sed: never on a command line (ps)
                printf '%s\n' "${fragment//@BROKER_PASSWORD@/$(secret broker)}"
            fi
        } >"$config_file"
    )
    chmod 600 "$config_file"
    check_no_placeholders "$config_file"
}

# ---- --secure: certificates, logins, the clients' settings -----------------------------

# The secret NAME (broker or client) kept in secrets_file (0600), one `name=value` a line.
secret() {
    sed -n "s/^$1=//p" "$secrets_file" 2>/dev/null | head -n 1
}

# Make the TLS files and the SCRAM passwords of the secure broker on PORT (once; the certificates again
# when they are about to expire), and write client.env.
prepare_secure() {
    local port=$1 user=${CONTACTMON_KAFKA_SCRAM_USER:-contactmon} password
    [[ $user =~ ^[A-Za-z0-9._-]+$ ]] || die "CONTACTMON_KAFKA_SCRAM_USER may hold letters, digits and ._- only"
    tls_server_cert "$tls_dir" broker
    (umask 077 && cat "$tls_dir/broker.key" "$tls_dir/broker.pem" >"$tls_dir/broker-keystore.pem")
    if [[ ! -s $secrets_file ]]; then
        password=${CONTACTMON_KAFKA_SCRAM_PASSWORD:-$(random_password)}
        [[ $password =~ ^[A-Za-z0-9._~+-]{8,}$ ]] ||
            die "CONTACTMON_KAFKA_SCRAM_PASSWORD must be at least 8 letters, digits or ._~+- (it goes into a SCRAM credential)"
        (umask 077 && printf 'broker=%s\nclient=%s\nuser=%s\n' "$(random_password)" "$password" "$user" >"$secrets_file")
    elif [[ -n ${CONTACTMON_KAFKA_SCRAM_PASSWORD:-} && $CONTACTMON_KAFKA_SCRAM_PASSWORD != "$(secret client)" ]]; then
        die "this broker's storage was formatted with another CONTACTMON_KAFKA_SCRAM_PASSWORD: use another --port or --data, or leave it unset"
    elif [[ -n ${CONTACTMON_KAFKA_SCRAM_USER:-} && $CONTACTMON_KAFKA_SCRAM_USER != "$(secret user)" ]]; then
        die "this broker's storage was formatted for the SCRAM user $(secret user): use another --port or --data"
    fi
    (
        umask 077
        printf '%s\n' "# Written by deploy/kafka.sh start --secure: a client's settings for this broker." \
            "CONTACTMON_BOOTSTRAP_SERVERS=$HOST:$port" \
            "CONTACTMON_SECURITY_PROTOCOL=SASL_SSL" \
            "CONTACTMON_SASL_MECHANISM=$SCRAM_MECHANISM" \
            "CONTACTMON_SASL_USERNAME=$(secret user)" \
            "CONTACTMON_SASL_PASSWORD=$(secret client)" \
            "CONTACTMON_SSL_CAFILE=$tls_dir/ca.pem" >"$client_env"
    )
}

# Fail when the storage in DATA_DIR was formatted in the other mode (secure or not).
check_mode() {
    local data_dir=$1 secure=$2 formatted
    [[ -f $data_dir/meta.properties && -f $data_dir/contactmon.mode ]] || return 0
    formatted=$(<"$data_dir/contactmon.mode")
    if ((secure)) && [[ $formatted != secure ]]; then
        die "the storage in $data_dir was formatted without --secure (no SCRAM users): use another --port or --data"
    elif ((!secure)) && [[ $formatted == secure ]]; then
        die "the storage in $data_dir was formatted with --secure: start it with --secure"
    fi
}

# Set java_cmd to the JVM command line that runs a class from the Kafka jars.
build_java_cmd() {
    local -a heap jvm
    read -r -a heap <<<"${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
    read -r -a jvm <<<"${KAFKA_JVM_OPTS:-}"
    java_cmd=("$(java_bin)" "${heap[@]}" "${jvm[@]}"
        -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true
        "-Dlog4j2.configurationFile=$LOG4J_CONFIG" -cp "$LIBS/*")
}

# A random Kafka cluster id: 16 random bytes in unpadded URL-safe base64, what
# `kafka-storage random-uuid` prints, without starting a JVM for it (that takes seconds).
# Kafka refuses ids that start with '-', so those are drawn again.
new_cluster_id() {
    local id
    while :; do
        id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
        [[ $id == -* ]] || break
    done
    printf '%s\n' "$id"
}

# Format the KRaft storage in DATA_DIR once, with a cluster id kept in the state dir; with
# SECURE, the SCRAM users are created with it. The command line goes through a java argument
# file (0600, removed afterwards), so the passwords never show in the process list.
format_storage() {
    local data_dir=$1 secure=$2 cluster_id args
    if [[ -f $data_dir/meta.properties ]]; then
        return
    fi
    if [[ -s $state_dir/cluster.id ]]; then
        cluster_id=$(<"$state_dir/cluster.id")
    else
        cluster_id=$(new_cluster_id)
        printf '%s\n' "$cluster_id" >"$state_dir/cluster.id"
    fi
    say "formatting KRaft storage in $data_dir (cluster id $cluster_id)"
    local -a tool=(kafka.tools.StorageTool format --ignore-formatted --cluster-id "$cluster_id"
        --config "$config_file")
    if ((secure)); then
        tool+=(--add-scram "$SCRAM_MECHANISM=[name=$BROKER_USER,password=$(secret broker)]"
            --add-scram "$SCRAM_MECHANISM=[name=$(secret user),password=$(secret client)]")
    fi
    args=$state_dir/format.args
    (umask 077 && java_arg_file "${tool[@]}" >"$args")
    if ! "${java_cmd[@]}" "@$args" >>"$log_file" 2>&1; then
        rm -f "$args"
        log_tail
        die "formatting the storage in $data_dir failed"
    fi
    rm -f "$args"
    if ((secure)); then
        printf 'secure\n' >"$data_dir/contactmon.mode"
    else
        printf 'plaintext\n' >"$data_dir/contactmon.mode"
    fi
}

# Each argument quoted for a java @argument file, one a line.
java_arg_file() {
    local arg
    for arg in "$@"; do
        arg=${arg//\\/\\\\}
        printf '"%s"\n' "${arg//\"/\\\"}"
    done
}

# ---- subcommands -----------------------------------------------------------------------

cmd_install() {
    install_libs
}

cmd_start() {
    local port=$1 controller_port=$2 data_dir=$3 secure=$4 pid timeout started_at log_offset
    broker_paths "$port"
    pid=$(running_pid)
    if [[ -n $pid ]]; then
        if ((secure)) && ! grep -q '^listeners=SASL_SSL' "$config_file" 2>/dev/null; then
            die "a broker without --secure already runs on $HOST:$port (pid $pid): stop it first"
        fi
        say "already running on $HOST:$port (pid $pid); logs: $log_file"
        ((secure)) && say_secure
        return 0
    fi
    port_open "$port" && die "port $port is in use by another process (no broker of ours in $state_dir)"
    port_open "$controller_port" && die "controller port $controller_port is in use; pass --controller-port"

    install_libs
    ensure_java
    build_java_cmd
    mkdir -p "$state_dir" "$log_dir" "$data_dir"
    data_dir=$(cd "$data_dir" && pwd)
    check_mode "$data_dir" "$secure"
    ((secure)) && prepare_secure "$port" # client.env and secure.secrets: 0600 each
    render_config "$port" "$controller_port" "$data_dir" "$secure"
    printf '\n=== %s start: port %s, controller port %s, data %s%s ===\n' \
        "$(date -Is)" "$port" "$controller_port" "$data_dir" "$( ((secure)) && printf ', SASL_SSL')" >>"$log_file"
    format_storage "$data_dir" "$secure"

    log_offset=$(stat -c %s "$log_file")
    say "starting Kafka $VERSION on $HOST:$port (controller $HOST:$controller_port, data $data_dir)"
    say "logs: $log_file"
    # setsid: the broker outlives this script and a Ctrl-C in the shell that started it.
    setsid "${java_cmd[@]}" kafka.Kafka "$config_file" </dev/null >>"$log_file" 2>&1 &
    pid=$!
    printf '%s\n' "$pid" >"$pid_file"

    timeout=${CONTACTMON_KAFKA_START_TIMEOUT:-60}
    started_at=$SECONDS
    wait_until_ready "$pid" "$started_at" "$timeout" 0.5 "the broker" \
        "the broker did not answer on $HOST:$port" broker_ready "$port" "$log_offset"
    say "ready on $HOST:$port (pid $pid, after $((SECONDS - started_at))s)"
    ((secure)) && say_secure
    return 0
}

# Where a client of a secure broker finds its settings (never the password itself).
say_secure() {
    say "SASL_SSL with $SCRAM_MECHANISM, user $(secret user); CA certificate: $tls_dir/ca.pem"
    say "client settings (password included, 0600): $client_env"
}

cmd_stop() {
    local port=$1
    broker_paths "$port"
    stop_instance "$port" "$(running_pid)" "the broker" "$STOP_TIMEOUT" 5
}

cmd_status() {
    local port=$1 pid
    broker_paths "$port"
    pid=$(running_pid)
    if [[ -n $pid ]]; then
        local listener
        listener=$(sed -n 's|^listeners=\([A-Z_]*\)://.*|\1|p' "$config_file" 2>/dev/null)
        say "running on $HOST:$port (pid $pid, Kafka $VERSION, ${listener:-PLAINTEXT}); logs: $log_file"
        return 0
    fi
    say "not running on port $port; logs: $log_file"
    return 3
}

main() {
    (($# >= 1)) || usage
    local cmd=$1 port=9092 controller_port="" data_dir="" secure=0
    shift
    while (($# > 0)); do
        case $1 in
            --port) port=${2:?--port needs a value} && shift 2 ;;
            --controller-port) controller_port=${2:?--controller-port needs a value} && shift 2 ;;
            --data) data_dir=${2:?--data needs a value} && shift 2 ;;
            --secure) secure=1 && shift ;;
            -h | --help) usage ;;
            *) usage_error "unknown argument: $1" ;;
        esac
    done
    [[ $port =~ ^[0-9]+$ ]] || die "--port must be a number, got '$port'"
    controller_port=${controller_port:-$((port + 1))}
    [[ $controller_port =~ ^[0-9]+$ ]] || die "--controller-port must be a number"
    [[ $controller_port != "$port" ]] || die "the controller port must differ from the port"
    data_dir=${data_dir:-$STATE_ROOT/kafka-$port/data}
    ((secure == 0)) || [[ $cmd == start ]] || die "--secure goes with start only"

    case $cmd in
        install) cmd_install ;;
        start) cmd_start "$port" "$controller_port" "$data_dir" "$secure" ;;
        stop) cmd_stop "$port" ;;
        status) cmd_status "$port" ;;
        -h | --help | help) usage ;;
        *) usage_error "unknown command: $cmd" ;;
    esac
}

main "$@"

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_lazy_outputs.sh: a command loads only the libraries it uses (issue 11 item 2). dump,
# diagnose, dbc, pinout, record and a monitor without outputs never load libmosquitto,
# libmicrohttpd or a TLS library; a monitor with --mqtt loads the MQTT module (and
# libmosquitto) but not the HTTP one, with --http the HTTP module but not libmosquitto (and
# leaves the GnuTLS that libmicrohttpd links uninitialised); no command loads libm. The
# dynamic loader's own log (LD_DEBUG=files) names every library a process loads.
set -uo pipefail

: "${BATLINK:?}" "${BL_SOURCE_DIR:?}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
fail() {
    echo "FAIL: $*"
    fails=$((fails + 1))
}
log=$BL_SOURCE_DIR/data/pylontech_us5000_v1.2.log

# loaded NAME CMD...: the libraries CMD loads, one per line, in $work/NAME
loaded() {
    local name=$1
    shift
    LD_DEBUG=files LD_DEBUG_OUTPUT=$work/$name.ld "$@" >/dev/null 2>"$work/$name.err" </dev/null
    local rc=$?
    cat "$work/$name".ld.* 2>/dev/null | sed -n 's/.*file=\([^ ]*\).*/\1/p' | sort -u >"$work/$name"
    [[ -s $work/$name ]] || fail "$name: no loader log (LD_DEBUG unsupported?)"
    return $rc
}
lacks() { # name, pattern
    if grep -E "$2" "$work/$1" >/dev/null; then
        fail "$1 loads $(grep -E "$2" "$work/$1" | tr '\n' ' ')"
    fi
}
has() {
    grep -E "$2" "$work/$1" >/dev/null || fail "$1 does not load $2"
}
outputs='mosquitto|microhttpd|libssl|libcrypto|gnutls|batlink-(mqtt|http)'

loaded dump "$BATLINK" dump "$log" || fail "dump: exit $?"
loaded dump_json "$BATLINK" dump --json "$log" || fail "dump --json: exit $?"
loaded diagnose "$BATLINK" diagnose "$log" || true # findings may set the exit status
loaded dbc "$BATLINK" dbc pylontech || fail "dbc: exit $?"
loaded pinout "$BATLINK" pinout || fail "pinout: exit $?"
loaded record "$BATLINK" record "$log" "$work/copy.log" || fail "record: exit $?"
loaded monitor "$BATLINK" monitor --duration 0.2 sim: || fail "monitor: exit $?"
for c in dump dump_json diagnose dbc pinout record monitor; do lacks "$c" "$outputs"; done

# the modules load on demand, each with only its own library (an unreachable broker is fine:
# the monitor keeps retrying until --duration ends)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
loaded monitor_mqtt "$BATLINK" monitor --duration 0.3 --mqtt "mqtt://127.0.0.1:$port" sim: ||
    fail "monitor --mqtt: exit $? ($(cat "$work/monitor_mqtt.err"))"
has monitor_mqtt 'batlink-mqtt\.so'
has monitor_mqtt 'libmosquitto'
lacks monitor_mqtt 'microhttpd|gnutls|batlink-http'
loaded monitor_http "$BATLINK" monitor --duration 0.3 --http "127.0.0.1:0" sim: ||
    fail "monitor --http: exit $? ($(cat "$work/monitor_http.err"))"
has monitor_http 'batlink-http\.so'
has monitor_http 'microhttpd'
lacks monitor_http 'mosquitto|libssl|batlink-mqtt'

# batlink serves plain HTTP only: libmicrohttpd's load-time gnutls_global_init() must bind to the
# module's no-op (src/out/http_notls.c), never to GnuTLS, whose initialisation costs ~0.8 MiB of
# RSS (LD_DEBUG=bindings logs which object each symbol is bound to)
LD_DEBUG=bindings LD_DEBUG_OUTPUT=$work/bind "$BATLINK" monitor --duration 0.3 --http 127.0.0.1:0 \
    sim: >/dev/null 2>"$work/bind.err" </dev/null || fail "monitor --http (bindings): exit $?"
cat "$work"/bind.* 2>/dev/null | grep -E "symbol .gnutls_global_(de)?init" >"$work/gnutls_init"
grep -E 'microhttpd.* to [^ ]*batlink-http\.so .*gnutls_global_init' "$work/gnutls_init" \
    >/dev/null || fail "libmicrohttpd's gnutls_global_init is not the module's no-op:
$(cat "$work/gnutls_init")"
if grep -E ' to [^ ]*libgnutls[^ ]* .*gnutls_global_init' "$work/gnutls_init" >/dev/null; then
    fail "gnutls_global_init bound to GnuTLS: $(grep libgnutls "$work/gnutls_init")"
fi

# batlink needs no libm (include/batlink/fmath.h): loading it alone costs ~0.3 MiB of RSS.
# Neither the binary nor a module lists it; without the sanitizers (whose runtimes link libm)
# no command loads it at all.
for f in "$BATLINK" "$(dirname "$BATLINK")"/batlink-*.so; do
    if readelf -d "$f" | grep -E 'NEEDED.*\[libm\.so' >/dev/null; then
        fail "$(basename "$f") needs libm"
    fi
done
if ! readelf -d "$BATLINK" | grep -E 'NEEDED.*lib(a|ub)san' >/dev/null; then
    for c in dump dump_json diagnose dbc pinout record monitor monitor_mqtt monitor_http; do
        lacks "$c" '(^|/)libm\.so'
    done
fi

if ((fails)); then
    echo "$fails failure(s)"
    exit 1
fi
echo "PASS: each command loads only the output libraries it uses"

# shellcheck shell=bash
# tests/tcp-port.sh: tcp_port, a loopback port for a listener of the
# tests' own (sourced by tests/lib.sh and tests/bench-host.sh).
#
# Random, and below the kernel's ephemeral range
# (/proc/sys/net/ipv4/ip_local_port_range; above it when that range starts
# low): a port there may be taken at any time by a connection the tests
# themselves open, and the listener's bind then fails ("Address already
# in use": seen in make bench, a port of 20000-49999 picked at random).
tcp_port() {
    local lo=32768 hi=60999
    read -r lo hi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
    if [ "$lo" -gt 12000 ]; then
        echo $((10000 + RANDOM % (lo - 10000)))
    else
        echo $((hi + 1 + RANDOM % (65535 - hi)))
    fi
}

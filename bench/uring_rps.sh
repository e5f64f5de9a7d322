#!/usr/bin/env bash
# What the io_uring server would save where the TCP stack's receive work does not run on the
# server's CPU (a machine with more cores, a NIC whose interrupts and softirqs other cores take),
# shown on this one (issue 20). On loopback a send runs the whole delivery to the peer (its
# receive softirq included) in the sender's system call, so most of a server's CPU per request is
# TCP (docs/performance.md, the perf profile) and no event interface can save much of it.
#
# Here bench/uring.sh runs twice in a network namespace of its own (its own loopback; the
# machine's is untouched), the servers pinned to CPU 0 and the load generator to CPU 1:
#   same-cpu   RPS off: delivery runs where the sender runs, as on the machine's loopback
#   rps        Receive Packet Steering on the namespace's lo sends every received packet's
#              processing to CPU 1: the server's CPU 0 keeps its system calls, the send path
#              down to the device, and the copy out of the socket, which is what a server's CPU
#              does on a machine where other cores take the receive path
# CPU per request is the server's own (utime + stime): softirq work steered to CPU 1 is not in it.
# Root only (network namespaces, sysfs); the namespace is removed at the end.
# usage: bench/uring_rps.sh [ROUNDS] [SECONDS]   (default 3 rounds of 3 s, cells 50 and 1000)
set -u
cd "$(dirname "$0")/.." || exit 1
ROUNDS=${1:-3}
SECS=${2:-3}
[ "$(id -u)" = 0 ] || { echo "uring_rps.sh: needs root (a network namespace and its sysfs)" >&2; exit 1; }
[ "$(nproc)" -ge 2 ] || { echo "uring_rps.sh: needs 2 CPUs" >&2; exit 1; }
NS=sk-rps-$$
ip netns add "$NS" || exit 1
trap 'ip netns del "$NS" 2>/dev/null' EXIT
ip -n "$NS" link set lo up || exit 1

for mode in same-cpu rps; do
    mask=0
    [ $mode = rps ] && mask=2 # CPU 1
    ip netns exec "$NS" sh -c "echo $mask > /sys/class/net/lo/queues/rx-0/rps_cpus" || exit 1
    echo "== $mode (rps_cpus $(ip netns exec "$NS" cat /sys/class/net/lo/queues/rx-0/rps_cpus))"
    ip netns exec "$NS" env SERVER_CPU=0 CLIENT_CPU=1 CELLS="${CELLS:-50 1000}" \
        bash bench/uring.sh "$ROUNDS" "$SECS" | sed -n '/^medians/,$p'
done

#!/usr/bin/env bash
# The main job, run by `make demo`: validate and draw the scenarios, deploy a
# multi-host lab (kernel backend as root, simulated otherwise), check it with
# real traffic, show it, and tear it down (also on failure).
set -euo pipefail
cd "$(dirname "$0")/.."
NETLAB=.venv/bin/netlab
SCENARIO=scenarios/two-host-bridges.yaml
LAB=two-host-bridges
OUT=${OUT:-demo-out}
mkdir -p "$OUT"

$NETLAB validate scenarios/*.yaml
$NETLAB draw "$SCENARIO" -o "$OUT/$LAB.png"

if [ "$(id -u)" -ne 0 ]; then
    echo "not root: deploying on the simulated backend (checks with real traffic need root)"
    $NETLAB up "$SCENARIO" --backend sim
    trap '$NETLAB down $LAB' EXIT
    $NETLAB status "$LAB"
    $NETLAB exec "$LAB" web -- ip -br addr
    exit 0
fi

$NETLAB up "$SCENARIO" --backend kernel
trap '$NETLAB down $LAB' EXIT
$NETLAB status "$LAB"

failures=0
check() {  # check "what" expected-exit-status command...
    local what=$1 want=$2; shift 2
    if "$@" >/dev/null 2>&1; then got=0; else got=1; fi
    if [ "$got" = "$want" ]; then echo "  pass  $what"; else echo "  FAIL  $what"; failures=$((failures + 1)); fi
}
echo "checks:"
check "app reaches web on front (same bridge)"          0 $NETLAB exec $LAB app -- ping -c1 -W1 10.31.1.10
check "app cannot reach db (internal network)"           1 $NETLAB exec $LAB app -- ping -c1 -W1 10.31.2.2
check "web reaches db on back"                           0 $NETLAB exec $LAB web -- ping -c1 -W1 10.31.2.2
check "client on h2 reaches the internet (masquerade)"   0 $NETLAB exec $LAB client -- ping -c1 -W1 192.0.2.1
check "db has no way out (internal)"                     1 $NETLAB exec $LAB db -- ping -c1 -W1 192.0.2.1
check "client reaches h1's address across the underlay"  0 $NETLAB exec $LAB client -- ping -c1 -W1 192.0.2.11
echo "$failures check(s) failed"
exit "$failures"

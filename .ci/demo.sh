#!/usr/bin/env bash
# The main job, run by `make demo`: validate and draw the scenarios, deploy a
# multi-host lab (kernel backend as root, simulated otherwise), check it with
# real traffic, show it, and tear it down (also on failure).
set -euo pipefail
cd "$(dirname "$0")/.."
NETLAB=.venv/bin/netlab
SCENARIO=scenarios/two-host-overlay.yaml
LAB=two-host-overlay
OUT=${OUT:-demo-out}
mkdir -p "$OUT"

$NETLAB validate scenarios/*.yaml
$NETLAB draw "$SCENARIO" -o "$OUT/$LAB.png"

if [ "$(id -u)" -ne 0 ]; then
    echo "not root: deploying on the simulated backend (checks with real traffic need root)"
    $NETLAB up "$SCENARIO" --backend sim
    trap '$NETLAB down $LAB' EXIT
    $NETLAB status "$LAB"
    $NETLAB exec "$LAB" c1 -- ip -br addr
    $NETLAB test "$SCENARIO" --backend sim --plot "$OUT/matrix.png"
    $NETLAB trace "$LAB" c1 c2
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
check "c1 on h1 reaches c2 on h2 over VXLAN"              0 $NETLAB exec $LAB c1 -- ping -c1 -W1 10.0.9.3
check "c2 on h2 reaches c1 on h1"                           0 $NETLAB exec $LAB c2 -- ping -c1 -W1 10.0.9.2
check "c3 on h2 reaches c1 on h1"                           0 $NETLAB exec $LAB c3 -- ping -c1 -W1 10.0.9.2
check "1422-byte ping with DF fits the 1450 overlay MTU"    0 $NETLAB exec $LAB c1 -- ping -c1 -W1 -M do -s 1422 10.0.9.3
check "1423-byte ping with DF does not"                     1 $NETLAB exec $LAB c1 -- ping -c1 -W1 -M do -s 1423 10.0.9.3
check "c1 reaches the internet through docker_gwbridge"     0 $NETLAB exec $LAB c1 -- ping -c1 -W1 192.0.2.1
echo "$failures check(s) failed"
echo "the scenario's own expectations, with real traffic (heatmap in $OUT/matrix.png):"
$NETLAB test "$SCENARIO" --backend kernel --plot "$OUT/matrix.png" || failures=$((failures + 1))
echo "why c1 reaches c2, hop by hop (the packet walk over the real lab's snapshot):"
$NETLAB trace "$LAB" c1 c2 --backend kernel
exit "$failures"

#!/bin/sh
# The test command (README): installs what the tests need on a fresh Debian
# machine, then runs ruff, mypy, the import contracts and pytest.  Namespace-lab tests need root;
# without it they skip with a reason.
set -eu
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES="iproute2 nftables iptables iputils-ping iputils-tracepath traceroute mtr-tiny tmux redis-server postgresql procps kmod openssh-server ethtool prometheus"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    missing=""
    for pkg in $DEBIAN_PACKAGES; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
    done
    if [ -n "$missing" ]; then
        echo "tests/run.sh: installing Debian packages:$missing"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
    fi
fi

VENV="${NETMEDIC_TEST_VENV:-.venv}"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -e '.[test]'

"$VENV/bin/ruff" check probes tui tests
"$VENV/bin/ruff" format --check probes tui tests
"$VENV/bin/mypy"
"$VENV/bin/lint-imports" --no-cache
# Most tests wait on sockets, servers and subprocesses, not the CPU: three workers, each
# taking whole files (module-scoped labs and servers stay in one worker), keep the run
# within a few minutes on 2 cores.  NETMEDIC_TEST_WORKERS=0 runs them in one process.
WORKERS="${NETMEDIC_TEST_WORKERS:-3}"
if [ "$WORKERS" = 0 ]; then
    exec "$VENV/bin/python" -m pytest -q -rs -p no:cacheprovider "$@"
fi
exec "$VENV/bin/python" -m pytest -q -rs -p no:cacheprovider -n "$WORKERS" --dist loadfile "$@"

#!/usr/bin/env bash
# Services the test suite needs, set up idempotently; source it (make test does):
#   Debian's Chromium (browser tests of the example viewer), a PostgreSQL
#   cluster with a role and database for the ledger tests, and the X stack of
#   the desktop agent's tests (Xvfb, the picom compositor, xwd, xdotool, xrandr
#   and the xcb libraries Qt's xcb plugin loads). Exports
#   LEAKTRACE_TEST_POSTGRES_URL. Needs root to install and start them; without
#   root it says what is missing and those tests skip (they fail under CI=true).
export DEBIAN_FRONTEND=noninteractive
if [ "$(id -u)" -ne 0 ]; then
  command -v chromium >/dev/null || echo "test-services: chromium missing (apt-get install chromium); browser tests will skip" >&2
  command -v Xvfb >/dev/null && command -v picom >/dev/null \
    || echo "test-services: Xvfb or picom missing; the desktop agent's tests will skip" >&2
  return 0 2>/dev/null || exit 0
fi
if ! command -v chromium >/dev/null || ! command -v pg_ctlcluster >/dev/null; then
  apt-get update -qq
  apt-get install -y -qq chromium fonts-dejavu-core fonts-liberation postgresql >/dev/null
fi
agent_x=(xvfb picom x11-apps xdotool x11-xserver-utils libxcb-cursor0 libxkbcommon-x11-0 libxcb-icccm4
         libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libxcb-xkb1
         libegl1 libgl1 libfontconfig1 libdbus-1-3)
if ! command -v Xvfb >/dev/null || ! command -v picom >/dev/null || ! command -v xwd >/dev/null \
   || ! command -v xdotool >/dev/null || ! dpkg -s libxcb-cursor0 >/dev/null 2>&1; then
  apt-get update -qq
  apt-get install -y -qq "${agent_x[@]}" >/dev/null
fi
ver=$(ls /usr/lib/postgresql | sort -V | tail -1)
pg_lsclusters -h | awk '{print $1, $2}' | grep -qx "$ver main" || pg_createcluster "$ver" main >/dev/null
pg_ctlcluster "$ver" main status >/dev/null 2>&1 || pg_ctlcluster "$ver" main start
port=$(pg_lsclusters -h | awk -v v="$ver" '$1 == v && $2 == "main" {print $3}')
su postgres -c "psql -p $port -v ON_ERROR_STOP=1 -qc \"DO \\\$\\\$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'leaktrace') THEN CREATE ROLE leaktrace LOGIN PASSWORD 'leaktrace'; END IF; END\\\$\\\$;\""
su postgres -c "psql -p $port -tAc \"SELECT 1 FROM pg_database WHERE datname = 'leaktrace_test'\"" | grep -q 1 \
  || su postgres -c "createdb -p $port -O leaktrace leaktrace_test"
export LEAKTRACE_TEST_POSTGRES_URL="postgresql://leaktrace:leaktrace@127.0.0.1:$port/leaktrace_test"
echo "test-services: chromium $(chromium --version 2>/dev/null | awk '{print $2}'), PostgreSQL $ver on port $port, Xvfb and picom $(picom --version 2>/dev/null)" >&2

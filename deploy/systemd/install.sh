#!/usr/bin/env bash
# Install the monthly export and report on a Debian host with systemd (issue 14):
#   sudo bash deploy/systemd/install.sh [/opt/contactmon]
# Installs Chromium (for the PDF) when missing, creates the user `contactmon`, installs the
# project into PREFIX/.venv, copies the units and enables the timer. Re-running it is harmless.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
prefix="${1:-/opt/contactmon}"

if ! command -v chromium >/dev/null 2>&1; then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-dejavu-core
fi
id contactmon >/dev/null 2>&1 || useradd --system --home-dir /var/lib/contactmon --shell /usr/sbin/nologin contactmon
install -d -m 0755 "$prefix"
if [ "$repo" != "$prefix" ]; then
  cp -a "$repo/." "$prefix/"
fi
test -x "$prefix/.venv/bin/python" || python3 -m venv "$prefix/.venv"
"$prefix/.venv/bin/pip" install -q "$prefix"
install -d -m 0750 /etc/contactmon
if [ ! -f /etc/contactmon/report.env ]; then
  install -m 0600 "$here/report.env.example" /etc/contactmon/report.env
  echo "edit /etc/contactmon/report.env (store URL, SMTP settings) before the first run"
fi
install -m 0644 "$here/contactmon-report.service" "$here/contactmon-report.timer" /etc/systemd/system/
systemctl daemon-reload
systemctl enable --now contactmon-report.timer
systemctl list-timers contactmon-report.timer --no-pager

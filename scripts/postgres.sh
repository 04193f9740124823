#!/usr/bin/env bash
# Makes sure PostgreSQL answers on 127.0.0.1:5432 (trust auth for local tests), for the key store tests:
# installs Debian's server when missing and starts the machine's cluster when it is stopped.
set -euo pipefail
installed=no
if ! command -v pg_isready >/dev/null || [ -z "$(ls /usr/lib/postgresql 2>/dev/null)" ]; then
  echo "postgres: installing the server from Debian packages"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  installed=yes
fi
version=$(ls /etc/postgresql | sort -n | tail -1)
if [ "$installed" = yes ]; then
  # A fresh Debian cluster asks for a password over TCP; the tests connect as postgres from 127.0.0.1 without one.
  hba=/etc/postgresql/$version/main/pg_hba.conf
  sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
  pg_ctlcluster --skip-systemctl-redirect "$version" main reload 2>/dev/null || true
fi
if pg_isready -q -h 127.0.0.1 -p 5432; then exit 0; fi
echo "postgres: starting cluster $version/main"
pg_ctlcluster --skip-systemctl-redirect "$version" main start
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p 5432 && exit 0
  sleep 1
done
echo "postgres: not answering on 127.0.0.1:5432 after 30 s" >&2
exit 1

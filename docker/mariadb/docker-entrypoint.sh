#!/bin/sh
# Mirrors the official mariadb image's entrypoint: initialise /var/lib/mysql
# on the first start (root password, optional database), then run the server
# with the given arguments. The temporary server used for set-up runs with
# --skip-networking, so a TCP connection succeeds only once it is ready.
set -eu
if [ "${1#-}" != "$1" ]; then
  set -- mariadbd "$@"
fi
case "$1" in mariadbd | mysqld) server=1 ;; *) server=0 ;; esac
if [ "$server" = 1 ] && [ "$(id -u)" = 0 ]; then
  mkdir -p /var/lib/mysql /run/mysqld
  chown -R mysql:mysql /var/lib/mysql /run/mysqld
  exec setpriv --reuid=mysql --regid=mysql --init-groups "$0" "$@"
fi
if [ "$server" = 1 ] && [ ! -d /var/lib/mysql/mysql ]; then
  rootpw=${MARIADB_ROOT_PASSWORD:-${MYSQL_ROOT_PASSWORD:-}}
  if [ -z "$rootpw" ]; then
    echo "error: MARIADB_ROOT_PASSWORD (or MYSQL_ROOT_PASSWORD) must be set" >&2
    exit 1
  fi
  db=${MARIADB_DATABASE:-${MYSQL_DATABASE:-}}
  mariadb-install-db --datadir=/var/lib/mysql --auth-root-authentication-method=normal \
    --skip-test-db >/dev/null
  sock=/run/mysqld/init.sock
  "$@" --skip-networking --socket="$sock" &
  pid=$!
  i=0
  until mariadb-admin --socket="$sock" -uroot ping >/dev/null 2>&1; do
    i=$((i + 1))
    # Polled often: every pause is time the run waits for (30 s in all).
    if [ "$i" -gt 600 ]; then
      echo "error: the set-up server did not start" >&2
      exit 1
    fi
    sleep 0.05
  done
  esc=$(printf '%s' "$rootpw" | sed "s/\\\\/\\\\\\\\/g; s/'/''/g")
  {
    # mariadb-install-db also creates root@127.0.0.1, root@::1 and root@HOSTNAME
    # without a password; as in the official image, only root@localhost stays.
    echo "DELETE FROM mysql.global_priv WHERE User = 'root' AND Host <> 'localhost';"
    echo "FLUSH PRIVILEGES;"
    echo "ALTER USER 'root'@'localhost' IDENTIFIED BY '$esc';"
    echo "CREATE USER 'root'@'%' IDENTIFIED BY '$esc';"
    echo "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
    if [ -n "$db" ]; then echo "CREATE DATABASE IF NOT EXISTS \`$db\`;"; fi
  } | mariadb --socket="$sock" -uroot
  kill "$pid"
  wait "$pid" || true
fi
exec "$@"

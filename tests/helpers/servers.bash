# Throwaway database servers for the tests: PostgreSQL 15 and MariaDB, each in
# its own directory under one temporary directory, on a free loopback port.
#
#   setup_file()    { servers_start pg my; }     # either or both
#   teardown_file() { servers_stop; }
#
# After servers_start: PG_URI, PG_PORT, PG_DIR; MY_URI, MY_PORT, MY_DIR,
# MY_SOCKET; the superuser password is in DMS_TEST_PASSWORD. PostgreSQL runs as
# the postgres user (initdb refuses root), MariaDB as mysql. teardown_file runs
# whether tests failed or not; an EXIT trap stops the servers if bats dies.
# shellcheck shell=bash

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
DMS_TEST_PASSWORD=secret
export DMS_TEST_PASSWORD

# initdb refuses root: as root the servers run as postgres and mysql; as
# anyone else, as that user.
as_postgres() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

mysqld_user() {
	[ "$(id -u)" -ne 0 ] || echo --user=mysql
}

# The server's own administrator over the socket (unix_socket authentication).
if [ "$(id -u)" -eq 0 ]; then
	MY_ADMIN=root
else
	MY_ADMIN=$(id -un)
fi

# A port nobody listens on now (a start that loses the race retries).
free_port() {
	local port i
	for i in $(seq 1 100); do
		port=$((20000 + (RANDOM * 7 + i) % 40000))
		if ! (: <"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	return 1
}

servers_dir() {
	if [ -z "${SERVERS_DIR:-}" ]; then
		SERVERS_DIR=$(mktemp -d /tmp/dms-servers.XXXXXX)
		chmod 755 "$SERVERS_DIR"
		export SERVERS_DIR
	fi
}

# pg_start [NAME]: a PostgreSQL server in $SERVERS_DIR/NAME (default pg); sets
# PG_DIR, PG_PORT and PG_URI
pg_start() {
	local log
	servers_dir
	PG_DIR=$SERVERS_DIR/${1:-pg}
	mkdir -p "$PG_DIR"
	[ "$(id -u)" -ne 0 ] || chown postgres:postgres "$PG_DIR"
	chmod 700 "$PG_DIR"
	printf '%s\n' "$DMS_TEST_PASSWORD" >"$PG_DIR/pwfile"
	[ "$(id -u)" -ne 0 ] || chown postgres "$PG_DIR/pwfile"
	log=$PG_DIR/initdb.log
	if ! as_postgres "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres \
		--pwfile="$PG_DIR/pwfile" --auth-host=scram-sha-256 --auth-local=trust \
		-E UTF8 --locale=C.UTF-8 >"$log" 2>&1; then
		cat "$log" >&2
		return 1
	fi
	cat >>"$PG_DIR/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PG_DIR/data'
wal_level = logical
max_replication_slots = 10
max_wal_senders = 10
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 128MB
max_connections = 50
log_min_messages = warning
CONF
	for _ in 1 2 3; do
		PG_PORT=$(free_port)
		sed -i "/^port = /d" "$PG_DIR/data/postgresql.conf"
		echo "port = $PG_PORT" >>"$PG_DIR/data/postgresql.conf"
		if as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" \
			-w -t 60 start >/dev/null 2>&1; then
			PG_URI="postgresql://postgres:$DMS_TEST_PASSWORD@127.0.0.1:$PG_PORT/postgres"
			export PG_DIR PG_PORT PG_URI
			return 0
		fi
	done
	cat "$PG_DIR/server.log" >&2
	return 1
}

pg_stop() {
	[ -n "${PG_DIR:-}" ] && [ -f "$PG_DIR/data/postmaster.pid" ] || return 0
	as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop \
		>/dev/null 2>&1 || true
}

# psql as the superuser, over TCP, quiet and unaligned: pg_sql DB SQL
pg_sql() {
	PGPASSWORD=$DMS_TEST_PASSWORD psql -X -q -A -t -v ON_ERROR_STOP=1 \
		-h 127.0.0.1 -p "$PG_PORT" -U postgres -d "$1" -c "$2"
}

# pg_uri DB: the URI of another database on the test server.
pg_uri() {
	echo "postgresql://postgres:$DMS_TEST_PASSWORD@127.0.0.1:$PG_PORT/$1"
}

my_start() {
	local i log
	servers_dir
	MY_DIR=$SERVERS_DIR/my
	mkdir -p "$MY_DIR/data"
	[ "$(id -u)" -ne 0 ] || chown -R mysql:mysql "$MY_DIR"
	MY_SOCKET=$MY_DIR/data/mysqld.sock
	log=$MY_DIR/install.log
	# shellcheck disable=SC2046 # no --user when not root
	if ! mariadb-install-db --no-defaults $(mysqld_user) --datadir="$MY_DIR/data" \
		--auth-root-authentication-method=socket --skip-test-db >"$log" 2>&1; then
		cat "$log" >&2
		return 1
	fi
	for _ in 1 2 3; do
		MY_PORT=$(free_port)
		my_launch
		for i in $(seq 1 120); do
			if mariadb-admin --no-defaults --socket="$MY_SOCKET" -u"$MY_ADMIN" ping >/dev/null 2>&1; then
				mariadb --no-defaults --socket="$MY_SOCKET" -u"$MY_ADMIN" -e "
					CREATE USER 'dms'@'%' IDENTIFIED BY '$DMS_TEST_PASSWORD';
					GRANT ALL ON *.* TO 'dms'@'%' WITH GRANT OPTION;" || return 1
				MY_URI="mysql://dms:$DMS_TEST_PASSWORD@127.0.0.1:$MY_PORT"
				export MY_DIR MY_PORT MY_URI MY_SOCKET
				return 0
			fi
			if ! kill -0 $! 2>/dev/null; then
				break
			fi
			sleep 0.25
		done
		kill $! 2>/dev/null || true
	done
	cat "$MY_DIR/data/error.log" >&2
	return 1
}

# Starts mariadbd on MY_DIR and MY_PORT, with extra options (later ones win).
my_launch() {
	# shellcheck disable=SC2046 # no --user when not root
	mariadbd --no-defaults $(mysqld_user) --datadir="$MY_DIR/data" \
		--port="$MY_PORT" --bind-address=127.0.0.1 --socket="$MY_SOCKET" \
		--pid-file="$MY_DIR/data/mysqld.pid" --log-error="$MY_DIR/data/error.log" \
		--log-bin="$MY_DIR/data/binlog" --binlog-format=ROW --binlog-row-image=FULL \
		--binlog-row-metadata=FULL --server-id=1 --skip-name-resolve \
		--character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
		--local-infile=1 --innodb-buffer-pool-size=256M \
		--innodb-flush-log-at-trx-commit=2 --sync-binlog=0 \
		--max-connections=100 "$@" >/dev/null 2>&1 &
	disown $!
}

# my_restart [OPTION...]: the same server again, with these options added.
my_restart() {
	local i
	my_stop
	my_launch "$@"
	for i in $(seq 1 120); do
		if mariadb-admin --no-defaults --socket="$MY_SOCKET" -u"$MY_ADMIN" ping >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.25
	done
	cat "$MY_DIR/data/error.log" >&2
	return 1
}

# pg_restart: after ALTER SYSTEM of a setting that needs it.
pg_restart() {
	as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 -m fast restart >/dev/null
}

my_stop() {
	local pid
	[ -n "${MY_DIR:-}" ] && [ -f "$MY_DIR/data/mysqld.pid" ] || return 0
	pid=$(cat "$MY_DIR/data/mysqld.pid")
	kill -KILL "$pid" 2>/dev/null || true
	while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
}

# mariadb as root over the socket: my_sql [DB] SQL
my_sql() {
	if [ $# -eq 2 ]; then
		mariadb --no-defaults --default-character-set=utf8mb4 --socket="$MY_SOCKET" -u"$MY_ADMIN" -N -B -D "$1" -e "$2"
	else
		mariadb --no-defaults --default-character-set=utf8mb4 --socket="$MY_SOCKET" -u"$MY_ADMIN" -N -B -e "$1"
	fi
}

# my_uri DB: the URI of a database on the test server.
my_uri() {
	echo "$MY_URI/$1"
}

servers_start() {
	local s
	trap servers_stop EXIT
	for s in "$@"; do
		case $s in
		pg) pg_start pg || return 1 ;;
		my) my_start || return 1 ;;
		*)
			echo "servers_start: unknown server $s" >&2
			return 1
			;;
		esac
	done
}

servers_stop() {
	pg_stop
	my_stop
	if [ -n "${SERVERS_DIR:-}" ] && [ -d "$SERVERS_DIR" ]; then
		rm -rf "$SERVERS_DIR"
	fi
	SERVERS_DIR=
}

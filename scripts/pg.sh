#!/usr/bin/env bash
# pg.sh — give a command a real PostgreSQL database, wherever we happen to run.
#
#   scripts/pg.sh test -- CMD [ARGS...]   CMD gets TEST_DATABASE_URL: a throwaway database
#   scripts/pg.sh demo -- CMD [ARGS...]   CMD gets DATABASE_URL: the persistent demo database
#   scripts/pg.sh env demo                print `export DATABASE_URL=...` (starts the demo cluster, leaves it up)
#   scripts/pg.sh stop demo               stop a demo cluster left running by `env demo`
#
# The tests of this project only mean something against a real server, and
# `make test` must work the same on a laptop with PostgreSQL running, on a
# laptop with only the binaries installed, and on a bare CI container (root, no
# stdin). So we try, in order:
#   1. the URL the caller already set (they know best; we touch nothing);
#   2. a server on 127.0.0.1:5432 with trust auth for user postgres
#      (test mode: a uniquely named database, dropped at exit);
#   3. a private cluster started from the installed binaries under .pg/
#      (test mode: a fresh one per run, deleted at exit; demo: reused);
#   4. as root with apt-get: install PostgreSQL, then retry 2 and 3;
#   5. give up with one line saying what to set.
#
# In test mode the command also gets TEST_PGBOUNCER_URL: the same database
# through a PgBouncer of our own (pool_mode = transaction, a server pool
# smaller than the tests' client count), started on a free port in front of
# whichever server was chosen above and stopped at exit. PgBouncer is
# required, not optional: the tests that go through it prove that tenants
# stay apart behind transaction pooling, and a run that quietly left them
# out would prove nothing. Missing, it is installed with apt-get as root;
# otherwise we stop and say so. A caller's TEST_PGBOUNCER_URL is used as is.
#
# stdout belongs to CMD (and to the export lines of `env`): every message of
# ours goes to stderr, prefixed "pg.sh:". We exit with CMD's exit status.

set -euo pipefail

readonly PROG=pg.sh
ROOT=$(cd -P "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT
readonly SYS_HOST=127.0.0.1 SYS_PORT=5432
readonly FIRST_PORT=55432 PORT_TRIES=100
# Give up quickly on a server that is half up, rather than hang CI.
export PGCONNECT_TIMEOUT=${PGCONNECT_TIMEOUT:-10}

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() {
	log "$*"
	exit 1
}
usage() {
	cat >&2 <<'EOF'
usage: scripts/pg.sh test -- CMD [ARGS...]   run CMD with TEST_DATABASE_URL set to a throwaway database
                                             (and TEST_PGBOUNCER_URL to it through PgBouncer)
       scripts/pg.sh demo -- CMD [ARGS...]   run CMD with DATABASE_URL set to the persistent demo database
       scripts/pg.sh env demo                print export lines for the demo database (leaves its cluster running)
       scripts/pg.sh stop demo               stop the demo cluster started by `env demo`
EOF
	exit 2
}

# ---------------------------------------------------------------------------
# State read by the EXIT trap. Everything starts "nothing to undo", and each
# flag is raised *before* the step that creates the thing, so an interrupt in
# the middle of a step still gets it cleaned up.
DROP_ADMIN_URL= # test mode on a shared server: where to drop DROP_DB from
DROP_DB=
CLUSTER_DIR=     # our own cluster, if any
CLUSTER_STARTED= # we (not an earlier run) started it, so we stop it
CLUSTER_REMOVE=  # test mode: delete the whole folder afterwards
STOP_MODE=fast   # test data is worthless: "immediate"; demo data is not
KEEP_RUNNING=    # `env demo`: the human wants the server to outlive us
PGB_DIR=         # test mode: PgBouncer's folder (config, pid, log), removed at exit
PGB_PID=         # the PgBouncer we started (its own pid, from its pidfile)
PGB_LAUNCHER=    # the background job that runs it (runuser, or PgBouncer itself)

PG_USER=  # when root: the unprivileged user that owns our clusters
BINDIR=   # directory with initdb, pg_ctl, postgres
PSQL=     # psql used for admin SQL
DB_URL=   # the result of resolve()
PGB_BIN=  # the pgbouncer binary
PGB_URL=  # the test database through our PgBouncer
CLUSTER_PORT=

cleanup() {
	local rc=$?
	# A second Ctrl-C must not leave a half-dropped database or a running
	# postmaster behind, and no single failure here should skip the rest.
	trap '' INT TERM HUP
	set +e
	# PgBouncer first: it holds server connections to the database dropped
	# below (FORCE would end them anyway, but then it logs errors).
	stop_pgbouncer
	if [[ -n $DROP_DB ]]; then
		log "dropping database $DROP_DB (and ${DROP_DB}_*)"
		# Go test packages derive their own databases from our name plus "_";
		# a killed test process leaks them, so they go too. left() rather than
		# LIKE, because "_" is a LIKE wildcard and would match too much.
		# Children sort after the parent, so DESC drops them first.
		admin_sql "$DROP_ADMIN_URL" -v db="$DROP_DB" <<-'SQL' >/dev/null || log "warning: could not drop $DROP_DB"
			SELECT format('DROP DATABASE IF EXISTS %I WITH (FORCE)', datname)
			  FROM pg_database
			 WHERE datname = :'db' OR left(datname, length(:'db') + 1) = :'db' || '_'
			 ORDER BY datname DESC
			\gexec
		SQL
	fi
	if [[ -n $CLUSTER_DIR && -n $CLUSTER_STARTED && -z $KEEP_RUNNING ]]; then
		stop_cluster "$CLUSTER_DIR" "$STOP_MODE"
	fi
	if [[ -n $CLUSTER_DIR && -n $CLUSTER_REMOVE ]]; then
		rm -rf -- "$CLUSTER_DIR"
	fi
	exit "$rc"
}
trap cleanup EXIT
# Turn signals into a normal exit so the EXIT trap runs; the codes are the
# shell convention (128 + signal number) so callers see "interrupted".
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# ---------------------------------------------------------------------------
# Helpers

is_root() { [[ $EUID -eq 0 ]]; }

# Admin SQL comes on stdin so that names travel as psql variables (:'db'),
# never spliced into the text. -X: a user's ~/.psqlrc must not change what
# runs; -w: never prompt for a password (CI has no stdin).
admin_sql() {
	local url=$1
	shift
	"$PSQL" -X -q -w -v ON_ERROR_STOP=1 -d "$url" "$@"
}

url_for() { printf 'postgres://postgres@%s:%s/%s?sslmode=disable' "$1" "$2" "$3"; }

# True when something accepts TCP connections on 127.0.0.1:$1. Bash's
# /dev/tcp needs no extra tools, and a closed port on loopback answers at once.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# PostgreSQL refuses to run as root. When we are root, run its programs as an
# ordinary user instead; from / so that an unreadable cwd (e.g. /root/...)
# cannot trip them.
as_pg() {
	if [[ -z $PG_USER ]]; then
		"$@"
	elif command -v runuser >/dev/null; then
		(cd / && runuser -u "$PG_USER" -- "$@")
	else
		(cd / && setpriv --reuid="$PG_USER" --regid="$(id -g "$PG_USER")" --init-groups -- "$@")
	fi
}

pick_pg_user() {
	is_root || return 0
	if id -u postgres >/dev/null 2>&1; then
		PG_USER=postgres
	else
		PG_USER=tenantctl-pg
		if ! id -u "$PG_USER" >/dev/null 2>&1; then
			log "creating system user $PG_USER to run PostgreSQL (it refuses to run as root)"
			useradd --system --user-group --no-create-home --home-dir /nonexistent \
				--shell /usr/sbin/nologin "$PG_USER" >&2 ||
				die "could not create user $PG_USER; run as a non-root user or set the database URL"
		fi
	fi
}

# A usable bindir has the server programs, not just client tools: pg_config
# alone (libpq-dev) can point at a directory without a server in it.
find_bindir() {
	local c candidates=()
	if command -v pg_config >/dev/null; then
		candidates+=("$(pg_config --bindir 2>/dev/null || true)")
	fi
	# Several majors can be installed side by side; the newest wins.
	while IFS= read -r c; do candidates+=("$c"); done < <(
		compgen -G '/usr/lib/postgresql/*/bin' | sort -rV || true
	)
	if command -v initdb >/dev/null; then
		candidates+=("$(dirname "$(command -v initdb)")")
	fi
	for c in "${candidates[@]}"; do
		if [[ -n $c && -x $c/initdb && -x $c/pg_ctl && -x $c/postgres ]]; then
			BINDIR=$c
			return 0
		fi
	done
	return 1
}

find_psql() {
	if [[ -n $BINDIR && -x $BINDIR/psql ]]; then
		PSQL=$BINDIR/psql
	elif command -v psql >/dev/null; then
		PSQL=$(command -v psql)
	else
		PSQL=
		return 1
	fi
}

# ---------------------------------------------------------------------------
# Step 2: a server already listening on 127.0.0.1:5432

try_system_server() {
	local mode=$1 admin_url db
	# pg_isready says "accepting connections" without needing credentials.
	if command -v pg_isready >/dev/null; then
		pg_isready -h "$SYS_HOST" -p "$SYS_PORT" -q -t 3 || return 1
	else
		port_in_use "$SYS_PORT" || return 1
	fi
	find_psql || {
		log "a server answers on $SYS_HOST:$SYS_PORT but psql is missing; not using it"
		return 1
	}
	admin_url=$(url_for "$SYS_HOST" "$SYS_PORT" postgres)
	# Something may answer on 5432 that will not let us in as postgres without
	# a password; then a private cluster is the better bet than failing.
	if ! admin_sql "$admin_url" -c 'SELECT 1' >/dev/null 2>&1; then
		log "a server answers on $SYS_HOST:$SYS_PORT but user postgres cannot log in without a password; not using it"
		return 1
	fi

	if [[ $mode == test ]]; then
		# pid + random: concurrent runs (and several checkouts) share this
		# server, and a name must never be reused while its owner still runs.
		db=$(printf 'tenantctl_test_%d_%04x%04x' "$$" "$RANDOM" "$RANDOM")
		DROP_ADMIN_URL=$admin_url
		DROP_DB=$db
		admin_sql "$admin_url" -v db="$db" >/dev/null <<-'SQL' || die "could not create database $db on $SYS_HOST:$SYS_PORT"
			SELECT format('CREATE DATABASE %I', :'db') \gexec
		SQL
	else
		db=tenantctl_demo
		create_db_if_missing "$admin_url" "$db" || die "could not create database $db on $SYS_HOST:$SYS_PORT"
	fi
	DB_URL=$(url_for "$SYS_HOST" "$SYS_PORT" "$db")
	log "using the server on $SYS_HOST:$SYS_PORT: $DB_URL"
}

create_db_if_missing() {
	admin_sql "$1" -v db="$2" >/dev/null <<-'SQL'
		SELECT format('CREATE DATABASE %I', :'db')
		 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')
		\gexec
	SQL
}

# ---------------------------------------------------------------------------
# Step 3: our own cluster under .pg/

# Where clusters live. Normally .pg/ in the repo (git-ignored, found again by
# the next demo run). When root runs a checkout the postgres user cannot even
# traverse (e.g. under /root), fall back to a per-checkout folder in /var/tmp.
pg_base() {
	local base=$ROOT/.pg
	if [[ -n $PG_USER ]] && ! as_pg test -x "$ROOT"; then
		base=/var/tmp/tenantctl-pg/$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)
		mkdir -p "$base"
		chmod 0755 /var/tmp/tenantctl-pg "$base"
	else
		mkdir -p "$base"
		# The cluster owner has to traverse .pg even when our umask is 077.
		[[ -z $PG_USER ]] || chmod 0755 "$base"
	fi
	printf '%s' "$base"
}

pid_alive() {
	if [[ -d /proc ]]; then [[ -d /proc/$1 ]]; else kill -0 "$1" 2>/dev/null; fi
}

# A run killed with SIGKILL (or a machine that lost power) skipped its trap.
# Its folder, and possibly its postmaster, would otherwise stay forever.
sweep_stale_test_clusters() {
	local base=$1 d pid
	for d in "$base"/test-*; do
		[[ -d $d ]] || continue
		pid=${d##*/test-}
		[[ $pid =~ ^[0-9]+$ ]] || continue
		pid_alive "$pid" && continue
		log "removing stale test cluster $d"
		stop_cluster "$d" immediate
		rm -rf -- "$d"
	done
}

stop_cluster() {
	local dir=$1 mode=$2
	[[ -f $dir/data/postmaster.pid ]] || return 0
	log "stopping the cluster in $dir"
	# After a failed stop we still go on: a postmaster whose data folder
	# disappears notices on its next lock-file check and shuts itself down.
	as_pg "$BINDIR/pg_ctl" -D "$dir/data" -m "$mode" -w -t 60 stop >/dev/null 2>&1 ||
		log "warning: could not stop the cluster in $dir (see $dir/log)"
}

# postgresql.conf settings that change from run to run (the port) or depend
# on where the checkout lives (the socket folder) are regenerated every start
# in a file the main config includes, instead of being passed with pg_ctl -o,
# which goes through /bin/sh and breaks on paths with spaces.
write_conf() {
	local dir=$1 mode=$2 port=$3 sockdir
	# Keep the socket beside the cluster so we never need /var/run/postgresql
	# (root-owned, or absent). A socket path is limited to ~107 bytes and the
	# config value is quoted; if the folder is unsuitable, TCP alone will do.
	sockdir=$dir
	if ((${#sockdir} > 90)) || [[ ! $sockdir =~ ^[A-Za-z0-9/._+-]+$ ]]; then
		sockdir=
	fi
	{
		echo "# Written by scripts/pg.sh on every start; edits are lost."
		echo "port = $port"
		echo "listen_addresses = '127.0.0.1'"
		echo "unix_socket_directories = '$sockdir'"
		# Go tests run packages in parallel, each with its own pool.
		echo "max_connections = 200"
		if [[ $mode == test ]]; then
			# Test data dies with the run: durability only costs time.
			echo "fsync = off"
			echo "synchronous_commit = off"
			echo "full_page_writes = off"
		fi
	} >"$dir/data/tenantctl.conf"
	[[ -z $PG_USER ]] || chown "$PG_USER:" "$dir/data/tenantctl.conf"
}

init_cluster() {
	local dir=$1 mode=$2 nosync=()
	[[ $mode == test ]] && nosync=(--no-sync)
	mkdir -p "$dir"
	chmod 0700 "$dir"
	[[ -z $PG_USER ]] || chown "$PG_USER:" "$dir"
	log "initdb $dir/data"
	if ! as_pg "$BINDIR/initdb" -D "$dir/data" --auth=trust --username=postgres \
		-E UTF8 --locale=C "${nosync[@]}" >"$dir/initdb.log" 2>&1; then
		tail -n 20 "$dir/initdb.log" >&2
		die "initdb failed (full output: $dir/initdb.log)"
	fi
	# The included file is resolved relative to postgresql.conf.
	echo "include_if_exists = 'tenantctl.conf'" >>"$dir/data/postgresql.conf"
	# Written last: an initdb cut short by Ctrl-C leaves no marker, and the
	# next demo run starts that folder over instead of tripping on it.
	: >"$dir/initialized"
}

# Start the cluster on the first free port from FIRST_PORT. The probe and the
# bind are not atomic (a parallel run may grab the same port), so a bind
# failure just moves on to the next port.
start_cluster() {
	local dir=$1 mode=$2 port=${3:-$FIRST_PORT} last off
	last=$((port + PORT_TRIES))
	for (( ; port < last; port++)); do
		port_in_use "$port" && continue
		write_conf "$dir" "$mode" "$port"
		off=$(stat -c %s "$dir/log" 2>/dev/null || echo 0)
		CLUSTER_STARTED=1
		if as_pg "$BINDIR/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 120 start >/dev/null 2>&1; then
			CLUSTER_PORT=$port
			return 0
		fi
		if tail -c +"$((off + 1))" "$dir/log" 2>/dev/null | grep -q -e 'could not bind' -e 'could not create any TCP/IP sockets'; then
			continue
		fi
		log "PostgreSQL did not start; last lines of $dir/log:"
		tail -c +"$((off + 1))" "$dir/log" 2>/dev/null | tail -n 20 >&2 || true
		die "could not start PostgreSQL in $dir"
	done
	die "no free TCP port on 127.0.0.1 in $FIRST_PORT..$last"
}

try_own_cluster() {
	local mode=$1 base dir db admin_url have ver
	find_bindir || return 1
	find_psql || return 1
	pick_pg_user
	base=$(pg_base)

	if [[ $mode == test ]]; then
		sweep_stale_test_clusters "$base"
		dir=$base/test-$$
		db=tenantctl_test
		STOP_MODE=immediate
		CLUSTER_REMOVE=1
		CLUSTER_DIR=$dir
		init_cluster "$dir" test
		start_cluster "$dir" test
	else
		dir=$base/demo
		db=tenantctl_demo
		STOP_MODE=fast
		if [[ -f $dir/initialized ]]; then
			# A data folder only opens with the major version that wrote it.
			have=$(<"$dir/data/PG_VERSION")
			ver=$("$BINDIR/postgres" -V | sed -E 's/[^0-9]*([0-9]+).*/\1/')
			[[ $have == "$ver" ]] ||
				die "$dir was made by PostgreSQL $have but $BINDIR is $ver: remove it (make clean) to start over"
		else
			rm -rf -- "$dir/data"
			init_cluster "$dir" demo
		fi
		if as_pg "$BINDIR/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
			# Left running by `env demo` (or a concurrent run): use it, and
			# leave stopping it to whoever started it.
			CLUSTER_PORT=$(sed -n 4p "$dir/data/postmaster.pid")
			log "the demo cluster in $dir is already running"
		else
			CLUSTER_DIR=$dir
			# Same port as last time if free, so a DATABASE_URL printed by
			# `env demo` earlier stays right.
			start_cluster "$dir" demo "$(cat "$dir/port" 2>/dev/null || echo "$FIRST_PORT")"
			echo "$CLUSTER_PORT" >"$dir/port"
		fi
	fi

	admin_url=$(url_for 127.0.0.1 "$CLUSTER_PORT" postgres)
	create_db_if_missing "$admin_url" "$db" || die "could not create database $db in $dir (see $dir/log)"
	DB_URL=$(url_for 127.0.0.1 "$CLUSTER_PORT" "$db")
	log "using a private cluster in $dir: $DB_URL"
}

# ---------------------------------------------------------------------------
# Step 4: install PostgreSQL (CI containers start bare)

try_install() {
	is_root && command -v apt-get >/dev/null || return 1
	log "no PostgreSQL found; installing it with apt-get"
	# Only the binaries matter. Whether the package also creates and starts a
	# cluster on 5432 depends on the image (policy-rc.d); both cases work.
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; } </dev/null >&2 ||
		die "apt-get install postgresql failed"
	hash -r
}

# ---------------------------------------------------------------------------
# PgBouncer in front of the test database (test mode only)

readonly PGB_FIRST_PORT=56432
# Smaller than the client count of the tests that go through PgBouncer (32
# goroutines, pools of 8 and more), so that server connections are shared
# between clients: the situation in which a session setting could leak.
readonly PGB_POOL_SIZE=3

# Debian installs pgbouncer in /usr/sbin, which an ordinary user's PATH often
# lacks. PGBOUNCER may name another binary.
find_pgbouncer() {
	local c
	for c in "${PGBOUNCER:-}" "$(command -v pgbouncer 2>/dev/null || true)" /usr/sbin/pgbouncer /usr/local/sbin/pgbouncer /usr/local/bin/pgbouncer; do
		if [[ -n $c && -x $c ]]; then
			PGB_BIN=$c
			return 0
		fi
	done
	return 1
}

install_pgbouncer() {
	is_root && command -v apt-get >/dev/null || return 1
	log "pgbouncer not found; installing it with apt-get"
	# Whether the package also starts a pgbouncer of its own on 6432 depends
	# on the image (policy-rc.d); ours runs from its own config either way.
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer; } </dev/null >&2 ||
		die "apt-get install pgbouncer failed"
	hash -r
}

# start_pgbouncer puts a PgBouncer in front of DB_URL's server and sets
# PGB_URL to the same database through it.
start_pgbouncer() {
	local info host port db user pass port_try last
	find_pgbouncer || { install_pgbouncer && find_pgbouncer; } ||
		die "pgbouncer is required by the tests (TEST_PGBOUNCER_URL) but not installed: apt-get install pgbouncer (or set PGBOUNCER=/path/to/pgbouncer, or TEST_PGBOUNCER_URL)"
	find_psql || die "psql is needed to put PgBouncer in front of the test database"
	pick_pg_user

	# Where PgBouncer must connect, asked of the server itself, so that every
	# path above (a URL given in any syntax, 5432, a private cluster) works
	# alike. Over a Unix socket there is no server address: use its folder.
	info=$(admin_sql "$DB_URL" -At -F ' ' -c "SELECT coalesce(host(inet_server_addr()), split_part(current_setting('unix_socket_directories'), ',', 1)),
		coalesce(inet_server_port(), current_setting('port')::int), current_database(), current_user") ||
		die "could not ask the test database where it listens (for PgBouncer)"
	read -r host port db user <<<"$info"
	[[ -n $host && -n $port && -n $db && -n $user ]] || die "could not tell where the test database listens: $info"
	[[ $db =~ ^[A-Za-z0-9_.-]+$ && $user =~ ^[A-Za-z0-9_.-]+$ ]] ||
		die "database $db / user $user: unusual names are not supported behind PgBouncer here; set TEST_PGBOUNCER_URL"
	# A password in the given URL (postgres://user:pass@...) or PGPASSWORD is
	# what PgBouncer logs in to the server with; ours and pg.sh's servers
	# trust, so it is normally empty.
	pass=${PGPASSWORD:-}
	if [[ $DB_URL =~ ^postgres(ql)?://[^:/@]+:([^@/]*)@ ]]; then
		pass=${BASH_REMATCH[2]}
	fi

	PGB_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tenantctl-pgbouncer.XXXXXX") || die "mktemp failed"
	# PgBouncer refuses to run as root: as root it runs as PG_USER, which
	# must write its pid and log here.
	[[ -z $PG_USER ]] || chown "$PG_USER:" "$PGB_DIR"
	# Client side: trust, as the servers we use do. PgBouncer still wants the
	# user in auth_file, and uses the password there to log in to the server.
	printf '"%s" "%s"\n' "$user" "${pass//\"/\"\"}" >"$PGB_DIR/userlist.txt"
	chmod 0600 "$PGB_DIR/userlist.txt"
	[[ -z $PG_USER ]] || chown "$PG_USER:" "$PGB_DIR/userlist.txt"
	port_try=$PGB_FIRST_PORT
	last=$((port_try + PORT_TRIES))
	for (( ; port_try < last; port_try++)); do
		port_in_use "$port_try" && continue
		write_pgbouncer_conf "$host" "$port" "$port_try" "$user"
		if run_pgbouncer "$port_try"; then
			PGB_URL="postgres://$user@127.0.0.1:$port_try/$db?sslmode=disable&default_query_exec_mode=exec"
			log "PgBouncer $("$PGB_BIN" --version 2>/dev/null | head -n1 | sed 's/^PgBouncer //') on 127.0.0.1:$port_try (transaction pooling, $PGB_POOL_SIZE server connections per database) in front of $host:$port"
			return 0
		fi
		grep -q -e 'Address already in use' -e 'bind' "$PGB_DIR/pgbouncer.log" 2>/dev/null && continue
		log "PgBouncer did not start; last lines of its log:"
		tail -n 20 "$PGB_DIR/pgbouncer.log" >&2 2>/dev/null || true
		die "could not start PgBouncer (config in $PGB_DIR)"
	done
	die "no free TCP port for PgBouncer on 127.0.0.1 in $PGB_FIRST_PORT..$last"
}

write_pgbouncer_conf() {
	local host=$1 port=$2 listen=$3 user=$4
	cat >"$PGB_DIR/pgbouncer.ini" <<-EOF
		; Written by scripts/pg.sh for one test run; removed at its end.
		[databases]
		; Tests make databases of their own (internal/testdb): every name is
		; forwarded, each (database, user) getting a pool of its own.
		* = host=$host port=$port

		[pgbouncer]
		listen_addr = 127.0.0.1
		listen_port = $listen
		; No Unix socket: nothing of ours uses it, and /var/run/postgresql may
		; be someone else's.
		unix_socket_dir =
		auth_type = trust
		auth_file = $PGB_DIR/userlist.txt
		pool_mode = transaction
		default_pool_size = $PGB_POOL_SIZE
		min_pool_size = 0
		reserve_pool_size = 0
		max_client_conn = 200
		; pgx sends no extra_float_digits, but other drivers (lib/pq, psql
		; tools) do. search_path is deliberately NOT ignored: a client asking
		; for a session search_path at startup would silently not get it on
		; the server connections it is handed, so it must fail instead.
		ignore_startup_parameters = extra_float_digits
		; A database made by a test may not exist yet, or be dropped while
		; its pool lingers: retry logins quickly instead of after 15 s.
		server_login_retry = 1
		; Unused databases' pools go away, so dropped test databases do not
		; keep pools around for the whole run.
		autodb_idle_timeout = 60
		logfile = $PGB_DIR/pgbouncer.log
		pidfile = $PGB_DIR/pgbouncer.pid
		log_connections = 0
		log_disconnections = 0
		log_pooler_errors = 1
		; The tests read SHOW SERVERS on the admin console ("pgbouncer"
		; database) to know every server connection they must find clean.
		admin_users = $user
	EOF
	[[ -z $PG_USER ]] || chown "$PG_USER:" "$PGB_DIR/pgbouncer.ini"
}

# run_pgbouncer starts PgBouncer in the background (not -d: its exit status
# and early death stay ours to see) and waits until it accepts connections
# on port $1; false if it died first.
run_pgbouncer() {
	local listen=$1 i
	rm -f "$PGB_DIR/pgbouncer.pid"
	: >"$PGB_DIR/pgbouncer.log"
	[[ -z $PG_USER ]] || chown "$PG_USER:" "$PGB_DIR/pgbouncer.log"
	as_pg "$PGB_BIN" -q "$PGB_DIR/pgbouncer.ini" </dev/null >>"$PGB_DIR/pgbouncer.log" 2>&1 &
	PGB_LAUNCHER=$!
	for ((i = 0; i < 200; i++)); do
		if [[ -z $PGB_PID && -s $PGB_DIR/pgbouncer.pid ]]; then
			PGB_PID=$(<"$PGB_DIR/pgbouncer.pid")
		fi
		if port_in_use "$listen"; then
			[[ -n $PGB_PID ]] || PGB_PID=$(<"$PGB_DIR/pgbouncer.pid")
			return 0
		fi
		if ! kill -0 "$PGB_LAUNCHER" 2>/dev/null; then
			wait "$PGB_LAUNCHER" 2>/dev/null || true
			PGB_LAUNCHER= PGB_PID=
			return 1
		fi
		sleep 0.05
	done
	log "PgBouncer did not accept connections within 10 s"
	return 1
}

# stop_pgbouncer ends the PgBouncer we started, if any, and removes its
# folder. SIGTERM is PgBouncer 1.18's immediate shutdown (SIGINT would wait
# for clients, and the tests are over).
stop_pgbouncer() {
	local i
	if [[ -n $PGB_PID ]] && kill -0 "$PGB_PID" 2>/dev/null; then
		kill -TERM "$PGB_PID" 2>/dev/null
		for ((i = 0; i < 100; i++)); do
			kill -0 "$PGB_PID" 2>/dev/null || break
			sleep 0.05
		done
		kill -0 "$PGB_PID" 2>/dev/null && kill -KILL "$PGB_PID" 2>/dev/null
	fi
	if [[ -n $PGB_LAUNCHER ]]; then
		kill -0 "$PGB_LAUNCHER" 2>/dev/null && kill -TERM "$PGB_LAUNCHER" 2>/dev/null
		wait "$PGB_LAUNCHER" 2>/dev/null
	fi
	PGB_PID= PGB_LAUNCHER=
	if [[ -n $PGB_DIR ]]; then
		rm -rf -- "$PGB_DIR"
		PGB_DIR=
	fi
}

# ---------------------------------------------------------------------------

resolve() {
	local mode=$1 var=$2
	if [[ -n ${!var:-} ]]; then
		DB_URL=${!var}
		log "using $var as set"
		return 0
	fi
	if [[ $mode == test && -n ${DATABASE_URL:-} ]]; then
		DB_URL=$DATABASE_URL
		log "TEST_DATABASE_URL not set; using DATABASE_URL as set"
		return 0
	fi
	try_system_server "$mode" && return 0
	try_own_cluster "$mode" && return 0
	if try_install; then
		try_system_server "$mode" && return 0
		try_own_cluster "$mode" && return 0
	fi
	log "no PostgreSQL found: set $var=postgres://USER@HOST:PORT/DB or install PostgreSQL (apt-get install postgresql)"
	exit 1
}

stop_demo() {
	local base dir
	find_bindir || die "no PostgreSQL binaries found"
	pick_pg_user
	base=$(pg_base)
	dir=$base/demo
	if [[ -f $dir/data/postmaster.pid ]] && as_pg "$BINDIR/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
		stop_cluster "$dir" fast
	else
		log "the demo cluster is not running"
	fi
}

main() {
	local cmd=${1:-}
	[[ $# -gt 0 ]] && shift
	case $cmd in
	test | demo)
		local var=DATABASE_URL rc=0
		[[ $cmd == test ]] && var=TEST_DATABASE_URL
		[[ ${1:-} == -- ]] && shift
		[[ $# -gt 0 ]] || usage
		resolve "$cmd" "$var"
		export "$var=$DB_URL"
		if [[ $cmd == test ]]; then
			if [[ -n ${TEST_PGBOUNCER_URL:-} ]]; then
				log "using TEST_PGBOUNCER_URL as set"
			else
				start_pgbouncer
				export TEST_PGBOUNCER_URL=$PGB_URL
			fi
		fi
		# Not exec: the trap has to run after CMD. CMD stays in the
		# foreground so it keeps the terminal and gets Ctrl-C itself.
		"$@" || rc=$?
		exit "$rc"
		;;
	env)
		[[ ${1:-} == demo && $# -eq 1 ]] || usage
		resolve demo DATABASE_URL
		KEEP_RUNNING=1
		if [[ -n $CLUSTER_STARTED ]]; then
			log "the demo cluster stays running; stop it with: scripts/pg.sh stop demo"
		fi
		printf "export DATABASE_URL='%s'\n" "${DB_URL//\'/\'\\\'\'}"
		;;
	stop)
		[[ ${1:-} == demo && $# -eq 1 ]] || usage
		stop_demo
		;;
	*) usage ;;
	esac
}

main "$@"

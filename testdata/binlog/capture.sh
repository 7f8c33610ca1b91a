#!/usr/bin/env bash
# capture.sh regenerates the binlog fixtures in this directory (see README.md).
# It starts a throwaway MariaDB master (127.0.0.231) and replica (127.0.0.232)
# in a temporary directory, runs a workload, kills the master with SIGKILL and
# copies the master's binlogs, the replica's relay logs and the replica's
# coordinates here. Only the processes it started are stopped, by pid.
set -euo pipefail

OUT=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/gomha-binlog-capture.XXXXXX)
M_IP=127.0.0.231
R_IP=127.0.0.232
PORT=3306
PIDS=()

cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT

# start NAME IP SERVER_ID EXTRA_ARGS...: install a datadir and start mariadbd.
start() {
	local name=$1 ip=$2 sid=$3
	shift 3
	local dir=$WORK/$name
	mkdir -p "$dir"
	mariadb-install-db --no-defaults --user=root --datadir="$dir/data" \
		--auth-root-authentication-method=normal >"$dir/install.log" 2>&1
	mariadbd --no-defaults --user=root --datadir="$dir/data" --socket="$dir/sock" \
		--bind-address="$ip" --port=$PORT --server-id="$sid" --log-error="$dir/err.log" \
		--pid-file="$dir/pid" --innodb-buffer-pool-size=16M --innodb-log-file-size=8M \
		--skip-name-resolve "$@" &
	PIDS+=($!)
	for _ in $(seq 1 100); do
		mariadb --no-defaults -S "$dir/sock" -uroot -e 'SELECT 1' >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "mariadbd $name did not start" >&2
	cat "$dir/err.log" >&2
	exit 1
}

m() { mariadb --no-defaults --binary-mode -S "$WORK/master/sock" -uroot "$@"; }
r() { mariadb --no-defaults -S "$WORK/replica/sock" -uroot "$@"; }

# slave_field NAME: one field of SHOW SLAVE STATUS on the replica.
slave_field() { r -e 'SHOW SLAVE STATUS\G' | awk -v k="$1" '$1 == k":" {print $2}'; }

wait_caught_up() {
	for _ in $(seq 1 100); do
		local read exec
		read=$(slave_field Read_Master_Log_Pos)
		exec=$(slave_field Exec_Master_Log_Pos)
		if [ "$(slave_field Master_Log_File)" = "$(slave_field Relay_Master_Log_File)" ] &&
			[ -n "$read" ] && [ "$read" = "$exec" ] &&
			[ "$(m -N -e 'SELECT @@gtid_binlog_pos')" = "$(r -N -e 'SELECT @@gtid_slave_pos')" ]; then
			return 0
		fi
		sleep 0.1
	done
	echo "replica did not catch up" >&2
	r -e 'SHOW SLAVE STATUS\G' >&2
	exit 1
}

start master $M_IP 231 --log-bin=mysql-bin --binlog-format=ROW
start replica $R_IP 232 --relay-log=relay-bin --relay-log-purge=OFF \
	--max-relay-log-size=8192 --skip-slave-start

m -e "CREATE USER repl@'%' IDENTIFIED BY 'replpw'; GRANT REPLICATION SLAVE ON *.* TO repl@'%';"
r -e "CHANGE MASTER TO MASTER_HOST='$M_IP', MASTER_PORT=$PORT, MASTER_USER='repl',
	MASTER_PASSWORD='replpw', MASTER_USE_GTID=slave_pos; START SLAVE;"

# A statement whose string literal holds all 256 byte values (NUL, quote and
# backslash escaped, everything else raw), logged as text in STATEMENT format.
{
	printf "INSERT INTO gomha.s (v, b) VALUES ('stmt blob', _binary'"
	for i in $(seq 0 255); do
		case $i in
		0) printf '\\0' ;;
		39) printf "\\\\'" ;;
		92) printf '\\\\' ;;
		*) printf "\\$(printf '%03o' "$i")" ;;
		esac
	done
	printf "');\n"
} >"$WORK/blob.sql"

ALL_BYTES=$(for i in $(seq 0 255); do printf '%02X' "$i"; done)

m <<SQL
CREATE DATABASE gomha;
USE gomha;
-- ROW format (the server default here)
CREATE TABLE r (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(100), d DATETIME, b BLOB) ENGINE=InnoDB;
INSERT INTO r (v, d) VALUES ('row one', NOW()), ('row two', '2020-01-01 00:00:00');
BEGIN; INSERT INTO r (v) VALUES ('in trx'); UPDATE r SET v = 'updated' WHERE id = 1; COMMIT;
DELETE FROM r WHERE id = 2;
INSERT INTO r (v, b) VALUES ('row blob', UNHEX('$ALL_BYTES'));
CREATE TABLE big (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB;
INSERT INTO big SELECT seq, CONCAT('v', seq) FROM seq_1_to_2000;
FLUSH BINARY LOGS;
-- STATEMENT format
SET SESSION binlog_format = STATEMENT;
CREATE TABLE s (id INT PRIMARY KEY AUTO_INCREMENT, v TEXT, x DOUBLE, d DATETIME, u VARCHAR(50), b BLOB) ENGINE=InnoDB;
SET @uv = 'user var value';
INSERT INTO s (v, u) VALUES ('uservar', @uv);
INSERT INTO s (v, x) VALUES ('rand', RAND());
INSERT INTO s (v, d) VALUES ('now', NOW());
INSERT INTO s (v) VALUES ('for last id');
INSERT INTO s (v, x) VALUES ('last id', LAST_INSERT_ID());
INSERT INTO s (v) VALUES ('text with ROLLBACK inside
and a newline;
ROLLBACK;
COMMIT');
BEGIN; INSERT INTO s (v) VALUES ('stmt trx 1'); INSERT INTO s (v) VALUES ('ROLLBACK'); COMMIT;
CREATE TABLE m (id INT PRIMARY KEY, v VARCHAR(50)) ENGINE=MyISAM;
INSERT INTO m VALUES (1, 'myisam statement');
SQL
m <"$WORK/blob.sql"
m <<SQL
USE gomha;
-- MIXED format
SET SESSION binlog_format = MIXED;
INSERT INTO s (v, x) VALUES ('mixed uuid_short', UUID_SHORT());
INSERT INTO s (v) VALUES ('mixed plain');
UPDATE s SET v = CONCAT(v, ' upd') WHERE id = 1;
INSERT INTO m VALUES (2, 'myisam mixed');
-- a second GTID domain, then a DDL
SET SESSION gtid_domain_id = 7;
INSERT INTO r (v) VALUES ('domain 7');
SET SESSION gtid_domain_id = 0;
ALTER TABLE r ADD COLUMN extra INT DEFAULT 5;
INSERT INTO r (v, extra) VALUES ('after ddl', 6);
SQL

wait_caught_up
r -e 'STOP SLAVE IO_THREAD'
# The replica does not receive this transaction.
m -e "INSERT INTO gomha.r (v) VALUES ('not on the replica')"

rm -f "$OUT"/mysql-bin.* "$OUT"/relay-bin.*
{
	echo '{'
	for k in Master_Log_File Read_Master_Log_Pos Relay_Log_File Relay_Log_Pos \
		Relay_Master_Log_File Exec_Master_Log_Pos Gtid_IO_Pos; do
		v=$(slave_field $k)
		case $v in *[!0-9]* | '') v="\"$v\"" ;; esac
		printf '  "%s": %s,\n' "$k" "$v"
	done
	printf '  "Replica_Server_Id": 232,\n'
	printf '  "Master_Gtid_Binlog_Pos": "%s"\n' "$(m -N -e 'SELECT @@gtid_binlog_pos')"
	echo '}'
} >"$OUT/slave_status.json"
m -N -e 'CHECKSUM TABLE gomha.r, gomha.big, gomha.s, gomha.m' | sed 's/\t/ /' >"$OUT/master_checksums.txt"

kill -9 "${PIDS[0]}"
wait "${PIDS[0]}" 2>/dev/null || true
r -e 'STOP SLAVE'
mariadb-admin --no-defaults -S "$WORK/replica/sock" -uroot shutdown
wait "${PIDS[1]}" 2>/dev/null || true

cp "$WORK"/master/data/mysql-bin.[0-9]* "$OUT"/
cp "$WORK"/replica/data/relay-bin.[0-9]* "$WORK"/replica/data/relay-bin.index "$OUT"/
chmod 0644 "$OUT"/mysql-bin.* "$OUT"/relay-bin.*
ls -l "$OUT"

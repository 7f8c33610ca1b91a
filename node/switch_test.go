package node

import (
	"testing"
	"time"
)

// innodbStatus is the transaction section of SHOW ENGINE INNODB STATUS from
// MariaDB 10.11.19, captured from a sandbox while one session held an
// INSERT of two rows open and another a SELECT ... FOR UPDATE.
const innodbStatus = `=====================================
2026-11-23 18:45:01 0x7f17f0ffd6c0 INNODB MONITOR OUTPUT
=====================================
TRANSACTIONS
------------
Trx id counter 34
Purge done for trx's n:o < 31 undo n:o < 0 state: running but idle
History list length 0
LIST OF TRANSACTIONS FOR EACH SESSION:
---TRANSACTION 33, ACTIVE 1 sec
2 lock struct(s), heap size 1128, 1 row lock(s)
MariaDB thread id 16, OS thread handle 139741794510528, query id 61 127.0.0.1 gomha User sleep
SELECT SLEEP(2)
---TRANSACTION 32, ACTIVE 1 sec
1 lock struct(s), heap size 1128, 0 row lock(s), undo log entries 2
MariaDB thread id 15, OS thread handle 139741439448768, query id 58 127.0.0.1 gomha User sleep
SELECT SLEEP(2)
---TRANSACTION 421, ACTIVE (PREPARED) 3 sec
1 lock struct(s), heap size 1128, 0 row lock(s), undo log entries 1
MySQL thread id 9, OS thread handle 1, query id 5 localhost root
---TRANSACTION (0x7f182c250b80), not started
0 lock struct(s), heap size 1128, 0 row lock(s)
--------
FILE I/O
--------
`

func TestParseInnoDBTransactions(t *testing.T) {
	got := parseInnoDBTransactions(innodbStatus)
	want := []Trx{
		{ID: "33", ThreadID: 16, Age: time.Second, State: "ACTIVE"},                        // locks, no writes
		{ID: "32", ThreadID: 15, Age: time.Second, RowsModified: 2, State: "ACTIVE"},       // the open INSERT
		{ID: "421", ThreadID: 9, Age: 3 * time.Second, RowsModified: 1, State: "PREPARED"}, // MySQL spelling, XA prepared
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v (not-started transactions are skipped)", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("transaction %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

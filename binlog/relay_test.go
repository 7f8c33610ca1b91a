package binlog

import (
	"context"
	"errors"
	"testing"
)

// TestFindRelayPosOracle maps the replica's own Read_Master_Log_Pos: once
// its SQL thread caught up, the server reported the relay position of that
// master position as Relay_Log_File/Relay_Log_Pos.
func TestFindRelayPosOracle(t *testing.T) {
	st := loadSlaveStatus(t)
	if st.ReadMasterLogPos != st.ExecMasterLogPos {
		t.Fatalf("fixture: replica had not caught up: %+v", st)
	}
	got, err := FindRelayPos(context.Background(), FileSources(fixturePaths(relayLogs(t)...)...),
		Pos{File: st.MasterLogFile, Offset: st.ReadMasterLogPos}, RelayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := RelayPos{File: st.RelayLogFile, Offset: st.RelayLogPos}
	if got != want {
		t.Errorf("got %s, want %s (the server's own mapping)", got, want)
	}
}

// TestFindRelayPosEveryEvent maps the end of every master event the replica
// received and checks the relay event ending there carries that position,
// across relay logs that rotated in the middle of a transaction.
func TestFindRelayPosEveryEvent(t *testing.T) {
	st := loadSlaveStatus(t)
	names := relayLogs(t)
	src := FileSources(fixturePaths(names...)...)
	ends := map[RelayPos]uint32{}
	for _, n := range names {
		for _, ev := range allEvents(t, fixture(n)) {
			ends[RelayPos{File: n, Offset: ev.End()}] = ev.LogPos
		}
	}
	checked := 0
	for _, mf := range masterBinlogs {
		for _, ev := range allEvents(t, fixture(mf)) {
			want := Pos{File: mf, Offset: int64(ev.LogPos)}
			if want.Compare(Pos{File: st.MasterLogFile, Offset: st.ReadMasterLogPos}) > 0 {
				continue // not received by the replica
			}
			if ev.Type == AnnotateRowsEvent {
				continue // the master does not send them unless asked
			}
			got, err := FindRelayPos(context.Background(), src, want, RelayOptions{})
			if err != nil {
				t.Errorf("%s: %v", want, err)
				continue
			}
			if lp, ok := ends[got]; !ok || int64(lp) != want.Offset {
				t.Errorf("%s mapped to %s where an event ends with log pos %d", want, got, lp)
			}
			checked++
		}
	}
	if checked < 50 {
		t.Errorf("only %d positions checked", checked)
	}
}

// TestFindRelayPosCases covers the edges of the mapping.
func TestFindRelayPosCases(t *testing.T) {
	st := loadSlaveStatus(t)
	names := relayLogs(t)
	all := FileSources(fixturePaths(names...)...)
	// relay-bin.000003 and .000004 start with no Rotate: the relay log rotated
	// inside the big transaction of mysql-bin.000001.
	late := FileSources(fixturePaths(names[2:]...)...)
	bigXID := lastEventOfType(t, "mysql-bin.000001", XIDEvent)
	cases := []struct {
		name    string
		src     []Source
		pos     Pos
		opts    RelayOptions
		want    RelayPos
		wantErr error
		why     string
	}{
		{"start of new master file", all, Pos{File: "mysql-bin.000002", Offset: 4}, RelayOptions{},
			RelayPos{File: "relay-bin.000006", Offset: 303}, nil, "right after the fake Rotate to mysql-bin.000002:4"},
		{"not received", all, Pos{File: st.MasterLogFile, Offset: st.ReadMasterLogPos + 100}, RelayOptions{},
			RelayPos{}, ErrPositionNotFound, "the master wrote past what the replica read"},
		{"older than the relay logs", FileSources(fixture(names[len(names)-1])), Pos{File: "mysql-bin.000001", Offset: 1288}, RelayOptions{},
			RelayPos{}, ErrPositionNotFound, "relay logs purged"},
		{"unknown region named by the next real rotate", late, Pos{File: "mysql-bin.000001", Offset: int64(bigXID.LogPos)}, RelayOptions{},
			RelayPos{File: names[3], Offset: findEnd(t, names[3], bigXID.LogPos)}, nil, "the master file is inferred from Rotate to mysql-bin.000002"},
		{"wrong file in unknown region", late, Pos{File: "mysql-bin.000002", Offset: int64(bigXID.LogPos)}, RelayOptions{},
			RelayPos{}, ErrPositionNotFound, "same offset, other master file"},
		{"unknown region named by the hint", FileSources(fixture(names[3])), Pos{File: "mysql-bin.000001", Offset: int64(bigXID.LogPos)},
			RelayOptions{MasterLogFile: "mysql-bin.000001"}, RelayPos{File: names[3], Offset: findEnd(t, names[3], bigXID.LogPos)}, nil,
			"no rotate after the region: the caller's Master_Log_File names it"},
		{"replica server id given", all, Pos{File: st.MasterLogFile, Offset: st.ReadMasterLogPos}, RelayOptions{ReplicaServerID: st.ReplicaServerID},
			RelayPos{File: st.RelayLogFile, Offset: st.RelayLogPos}, nil, "explicit id gives the same answer"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := FindRelayPos(context.Background(), c.src, c.pos, c.opts)
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("err %v, want %v (%s)", err, c.wantErr, c.why)
				}
				return
			}
			if err != nil || got != c.want {
				t.Errorf("got %s, %v; want %s (%s)", got, err, c.want, c.why)
			}
		})
	}
	if _, err := FindRelayPos(context.Background(), all, Pos{File: "mysql-bin", Offset: 4}, RelayOptions{}); !errors.Is(err, ErrBadFileName) {
		t.Errorf("bad master file name: err %v", err)
	}
}

func lastEventOfType(t *testing.T, name string, typ EventType) Event {
	t.Helper()
	var found Event
	for _, ev := range allEvents(t, fixture(name)) {
		if ev.Type == typ {
			found = ev
		}
	}
	if found.Size == 0 {
		t.Fatalf("no event of type %d in %s", typ, name)
	}
	return found
}

func findEnd(t *testing.T, relay string, logPos uint32) int64 {
	t.Helper()
	for _, ev := range allEvents(t, fixture(relay)) {
		if ev.LogPos == logPos && ev.ServerID != 232 {
			return ev.End()
		}
	}
	t.Fatalf("no event with log pos %d in %s", logPos, relay)
	return 0
}

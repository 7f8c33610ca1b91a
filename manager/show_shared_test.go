package manager

import (
	"strings"
	"testing"
	"time"
)

// TestSharedViewLeftOut: the old masters a failover replaced are named in
// gomha show --etcd with what replaced them, so an operator knows which
// servers every leader leaves out and why.
func TestSharedViewLeftOut(t *testing.T) {
	at := time.Date(2026, 12, 1, 15, 4, 5, 0, time.Local)
	state := map[string][]byte{
		"master":                   []byte("10.0.0.2:3306"),
		"replaced/10.0.0.1:3306":   []byte(`{"by":"pid 42 on host mgr1","new_master":"10.0.0.2:3306","at":"` + at.UTC().Format(time.RFC3339) + `"}`),
		"replaced/10.0.0.9:3306":   []byte(`not json`),
		"replacedness/10.0.0.5:33": []byte(`{}`),
	}
	v := NewSharedView("pid 42 on host mgr1", []string{"pid 42 on host mgr1"}, nil, state)
	want := []string{"10.0.0.1:3306, replaced by 10.0.0.2:3306 at 2026-12-01 15:04:05", "10.0.0.9:3306"}
	if strings.Join(v.LeftOut, "|") != strings.Join(want, "|") {
		t.Fatalf("LeftOut = %q, want %q", v.LeftOut, want)
	}
	if txt := v.text(); !strings.Contains(txt, "left out until rebuilt as a replica of the master: 10.0.0.1:3306, replaced by 10.0.0.2:3306") {
		t.Errorf("show's text does not name the replaced master:\n%s", txt)
	}
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gomha/gomha/sandbox"
	"github.com/gomha/gomha/sandbox/sandboxtest"
)

// TestManagerHTTPSandbox: gomha manager --conf F --http on a real sandbox
// (127.0.5.21-23, the listener on 127.0.5.1). The cluster's document is
// what gomha show -o json prints; HAProxy's route follows the master
// across a failover.
func TestManagerHTTPSandbox(t *testing.T) {
	c := sandboxtest.Up(t, sandbox.Options{Hosts: 3, GTID: true, Subnet: "127.0.5", BaseOctet: 20})
	none := filepath.Join(t.TempDir(), "none.cnf")
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wait := bgRun(ctx, "gomha", "manager", "--conf", c.ConfPath, "--global-conf", none, "--http", addr)
	base := "http://" + addr + "/api/v1/clusters/app1"
	key := func(host string) string {
		h, err := c.Host(host)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%s:%d", h.Addr, h.Port)
	}
	waitRoute := func(kind, host string, want int) {
		t.Helper()
		waitFor(t, fmt.Sprintf("%s %s to answer %d", kind, host, want), func() bool {
			code, _ := httpGet(t, base+"/"+kind+"/"+key(host), "")
			return code == want
		})
	}
	waitRoute("route", "host1", 200)

	code, body := httpGet(t, base, "")
	res := gomhaWith(t, defaultEnv(), "show", "--conf", c.ConfPath, "--global-conf", none, "-o", "json")
	api, cli := withoutTook(t, body), withoutTook(t, res.stdout)
	if code != 200 || res.code != 0 || !reflect.DeepEqual(api, cli) {
		t.Errorf("GET %s (%d) is not what gomha show -o json prints (exit %d):\n%s\n---\n%s", base, code, res.code, body, res.stdout)
	}
	for _, host := range []string{"host2", "host3"} {
		if code, line := httpGet(t, base+"/route/"+key(host), ""); code != 503 {
			t.Errorf("route %s: %d %s", host, code, line)
		}
	}

	if err := c.KillMysqld(context.Background(), "host1"); err != nil {
		t.Fatal(err)
	}
	waitRoute("route", "host2", 200)
	waitRoute("route-replica", "host3", 200)
	if code, line := httpGet(t, base+"/route/"+key("host1"), ""); code != 503 || !strings.Contains(line, "not the master") {
		t.Errorf("the dead master's route: %d %s", code, line)
	}
	cancel()
	if code, out := wait(); code != 0 {
		t.Fatalf("gomha manager: exit %d\n%s", code, out)
	}
}

// withoutTook decodes a show document without its "took" (how long the
// snapshot took differs between two snapshots of the same cluster).
func withoutTook(t *testing.T, doc string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatalf("%v:\n%s", err, doc)
	}
	delete(m, "took")
	return m
}

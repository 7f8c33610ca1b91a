package haproxy

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// standIn answers the routes as a manager does: 200 for its master (when
// it leads: master != ""), 503 otherwise; route-replica 200 for the
// other servers; 401 without the bearer token.
type standIn struct {
	mu     sync.Mutex
	master string // host:port; "" = a standby (every route 503)
	srv    *http.Server
	addr   string
}

func startStandIn(t *testing.T, listen, token string) *standIn {
	t.Helper()
	s := &standIn{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/clusters/app1/{kind}/{addr}", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		s.mu.Lock()
		master := s.master
		s.mu.Unlock()
		addr := r.PathValue("addr")
		ok := master != "" && addr == master
		if r.PathValue("kind") == "route-replica" {
			ok = addr != master
		}
		if !ok {
			http.Error(w, addr+": no", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte(addr + ": yes\n"))
	})
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go s.srv.Serve(ln)
	t.Cleanup(func() { s.srv.Close() })
	return s
}

func (s *standIn) lead(master string) {
	s.mu.Lock()
	s.master = master
	s.mu.Unlock()
}

// banner is a stand-in MySQL server: every connection gets its address
// and a newline.
func banner(t *testing.T, addr string) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte(addr + "\n"))
			c.Close()
		}
	}()
}

// through connects to a frontend and returns the banner of the server it
// led to, "" when HAProxy closed the connection (no server UP).
func through(addr string) string {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return ""
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	line, _ := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line)
}

// TestTwoManagersConfig runs docs/haproxy-two-managers.cfg in the real
// HAProxy against two stand-in managers (127.0.6.5 and .6) and three
// stand-in servers (127.0.6.41-43), HAProxy on 127.0.6.7: writes follow
// the master through whichever manager leads, are refused while none
// does, and reads go to the replicas.
func TestTwoManagersConfig(t *testing.T) {
	needHAProxy(t)
	example, err := ReadExample("../../" + TwoManagersPath)
	if err != nil {
		t.Fatal(err)
	}
	servers := []string{"127.0.6.41:3306", "127.0.6.42:3306", "127.0.6.43:3306"}
	for _, s := range servers {
		banner(t, s)
	}
	const token = "two-managers-token"
	m1, m2 := startStandIn(t, "127.0.6.5:0", token), startStandIn(t, "127.0.6.6:0", token)
	to := Addrs{Servers: servers, Managers: []string{m1.addr, m2.addr}, Write: "127.0.6.7:3306", Read: "127.0.6.7:3307"}
	cfg, err := Render(example, TwoManagersAddrs, to)
	if err != nil {
		t.Fatal(err)
	}
	m1.lead(servers[1]) // m1 leads; m2 is a standby
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := Start(ctx, Options{Dir: t.TempDir(), Config: append([]byte(Global+"\n"), cfg...),
		Env: []string{"GOMHA_HTTP_TOKEN=" + token}, Wait: []string{to.Write, to.Read}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("HAProxy's log:\n%s", p.Log())
		}
	})
	waitThrough := func(frontend, why string, ok func(string) bool) {
		t.Helper()
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
		defer wcancel()
		var last string
		if err := waitFor(wctx, func() bool { last = through(frontend); return ok(last) }); err != nil {
			t.Fatalf("%s: %s led to %q: %v", why, frontend, last, err)
		}
	}
	is := func(want string) func(string) bool { return func(got string) bool { return got == want } }
	// HAProxy counts a server UP until its first check: wait until the
	// standby's entry of the master has been checked (and found DOWN).
	if err := waitFor(ctx, func() bool { return len(p.LogLines("app1_write/"+servers[1]+"_m2 is DOWN")) > 0 }); err != nil {
		t.Fatalf("the standby's entry of the master never checked: %v", err)
	}
	waitThrough(to.Write, "m1 leads", is(servers[1]))
	waitThrough(to.Read, "replicas", func(got string) bool { return got == servers[0] || got == servers[2] })

	// The leadership moves to m2 (m1 steps down, then m2 leads, as with
	// etcd: never both): writes go on to the same master, through m2's
	// entry.
	m1.lead("")
	if err := waitFor(ctx, func() bool { return len(p.LogLines("app1_write/"+servers[1]+"_m1 is DOWN")) > 0 }); err != nil {
		t.Fatalf("m1's entry of the master stayed UP after m1 stepped down: %v", err)
	}
	for range 3 {
		if got := through(to.Write); got != "" {
			t.Fatalf("while nobody leads the write frontend led to %q", got)
		}
	}
	m2.lead(servers[1])
	waitThrough(to.Write, "m2 leads", is(servers[1]))
	if len(p.LogLines("app1_write/"+servers[1]+"_m2 is UP")) == 0 {
		t.Errorf("m2's entry of the master never went UP")
	}
	// m1 dies: nothing changes for the clients.
	m1.srv.Close()
	time.Sleep(time.Second)
	for range 5 {
		if got := through(to.Write); got != servers[1] {
			t.Fatalf("after m1's death the write frontend led to %q", got)
		}
	}
	// A failover that m2 made: the new master.
	m2.lead(servers[2])
	waitThrough(to.Write, "after m2's failover", is(servers[2]))
}

package sandbox

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// TestSandboxFreeze freezes the master of a real 2-host sandbox
// (127.0.0.131-132), as a hung master: connections are accepted but never
// greeted; Thaw brings it back; Down does not wait for a frozen server.
func TestSandboxFreeze(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	c := upOpts(t, Options{Hosts: 2, GTID: true, BaseOctet: 130})
	master := c.Hosts[0].mysqlAddr()

	if err := c.Freeze(ctx, "host1"); err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", master, time.Second)
	if err != nil {
		t.Fatalf("a frozen server's kernel must still accept connections: %v", err)
	}
	defer conn.Close()
	var ne net.Error
	if err := readGreeting(conn, time.Second); !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("greeting from a frozen server: err=%v, want a read timeout", err)
	}
	if st, err := c.Status(ctx); err != nil || !st[0].Frozen || st[0].Role != RoleUnknown || st[1].Frozen {
		t.Errorf("Status: %v %v; want host1 frozen and not probed, host2 not frozen", st, err)
	}

	if err := c.Thaw(ctx, "host1"); err != nil {
		t.Fatal(err)
	}
	if err := readGreeting(conn, 5*time.Second); err != nil {
		t.Errorf("the connection queued while frozen must be greeted after Thaw: %v", err)
	}
	checkReplication(ctx, t, c, 1, "Slave_Pos")

	if err := c.KillMysqld(ctx, "host2"); err != nil {
		t.Fatal(err)
	}
	if err := c.Freeze(ctx, "host2"); err == nil || !strings.Contains(err.Error(), "host2") {
		t.Errorf("Freeze of a dead mariadbd: err=%v, want an error naming host2", err)
	}
	if err := c.Freeze(ctx, "host1"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	checkDownIdentity(ctx, t, c)
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("Down of a frozen server took %v: it must be continued, not wait for the %v grace", d, stopGrace)
	}
}

// readGreeting reads the first bytes of the server's handshake packet: a
// 4-byte header and protocol version 10.
func readGreeting(conn net.Conn, timeout time.Duration) error {
	if err := conn.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	b := make([]byte, 5)
	if _, err := io.ReadFull(conn, b); err != nil {
		return err
	}
	if b[4] != 10 {
		return errors.New("not a MariaDB handshake")
	}
	return nil
}

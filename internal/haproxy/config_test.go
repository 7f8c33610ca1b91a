package haproxy

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRenderExample: docs/haproxy.cfg takes the addresses of a deployment
// everywhere the example has its own (nothing of the example's left), and
// the result with Global is valid for HAProxy, without a warning.
func TestRenderExample(t *testing.T) {
	example, err := ReadExample("../../" + ExamplePath)
	if err != nil {
		t.Fatal(err)
	}
	to := Addrs{
		Servers: []string{"127.0.6.11:3306", "127.0.6.12:3306", "127.0.6.13:3306"},
		Manager: "127.0.6.1:8080", Write: "127.0.6.2:3306", Read: "127.0.6.2:3307",
	}
	out, err := Render(example, to)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") && strings.Contains(line, "10.0.0.") {
			t.Errorf("an example address is left: %q", line)
		}
	}
	for _, want := range []string{
		"server 127.0.6.12:3306 127.0.6.12:3306",
		"check addr 127.0.6.1 port 8080 ",
		"bind 127.0.6.2:3306\n", "bind 127.0.6.2:3307\n",
		"uri-lf /api/v1/clusters/app1/route/%[srv_name] ",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("rendered configuration lacks %q", want)
		}
	}
	if _, err := Render([]byte("backend x\n"), to); err == nil {
		t.Error("an example without the expected addresses was rendered")
	}
	needHAProxy(t)
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(path, append([]byte(Global+"\n"), out...), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msg, err := Check(ctx, path, []string{"GOMHA_HTTP_TOKEN=t0ken"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(msg, "WARNING") || strings.Contains(msg, "ALERT") {
		t.Errorf("haproxy -c warns:\n%s", msg)
	}
}

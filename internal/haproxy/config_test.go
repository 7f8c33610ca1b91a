package haproxy

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRenderExample: each example takes the addresses of a deployment
// everywhere it has its own (none of the example's left outside
// comments), and the result with Global is valid for HAProxy, without a
// warning.
func TestRenderExample(t *testing.T) {
	servers := []string{"127.0.6.11:3306", "127.0.6.12:3306", "127.0.6.13:3306"}
	for _, tc := range []struct {
		path string
		from Addrs
		to   Addrs
		want []string
	}{
		{ExamplePath, ExampleAddrs,
			Addrs{Servers: servers, Managers: []string{"127.0.6.1:8080"}, Write: "127.0.6.2:3306", Read: "127.0.6.2:3307"},
			[]string{
				"server 127.0.6.12:3306 127.0.6.12:3306\n",
				"check addr 127.0.6.1 port 8080 ",
				"bind 127.0.6.2:3306\n", "bind 127.0.6.2:3307\n",
				"uri-lf /api/v1/clusters/app1/route/%[srv_name] ",
			}},
		{TwoManagersPath, TwoManagersAddrs,
			Addrs{Servers: servers, Managers: []string{"127.0.6.1:8080", "127.0.6.3:8081"}, Write: "127.0.6.2:3306", Read: "127.0.6.2:3307"},
			[]string{
				"server 127.0.6.12:3306_m2 127.0.6.12:3306 addr 127.0.6.3 port 8081\n",
				"uri-lf /api/v1/clusters/app1/route/%[srv_name,field(1,_)] ",
			}},
	} {
		example, err := ReadExample("../../" + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		out, err := Render(example, tc.from, tc.to)
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if !strings.HasPrefix(strings.TrimSpace(line), "#") && strings.Contains(line, "10.0.0.") {
				t.Errorf("%s: an example address is left: %q", tc.path, line)
			}
		}
		for _, want := range tc.want {
			if !strings.Contains(string(out), want) {
				t.Errorf("%s: the rendered configuration lacks %q", tc.path, want)
			}
		}
		if _, err := Render([]byte("backend x\n"), tc.from, tc.to); err == nil {
			t.Errorf("%s: a configuration without the example's addresses was rendered", tc.path)
		}
		needHAProxy(t)
		path := filepath.Join(t.TempDir(), "haproxy.cfg")
		if err := os.WriteFile(path, append([]byte(Global+"\n"), out...), 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		msg, err := Check(ctx, path, []string{"GOMHA_HTTP_TOKEN=t0ken"})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(msg, "WARNING") || strings.Contains(msg, "ALERT") {
			t.Errorf("%s: haproxy -c warns:\n%s", tc.path, msg)
		}
	}
}

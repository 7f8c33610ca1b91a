package demokit

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// HTTPAddr is an address for a demo manager's --http on host: port
// preferred when it is free (a URL that stays the same from one demo to
// the next), else a port the kernel gives.
func HTTPAddr(host string, preferred int) (string, error) {
	for _, addr := range []string{net.JoinHostPort(host, fmt.Sprint(preferred)), net.JoinHostPort(host, "0")} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		free := ln.Addr().String()
		ln.Close()
		return free, nil
	}
	return "", fmt.Errorf("no free port on %s for the HTTP API", host)
}

// WaitHTTP waits until url answers 200.
func WaitHTTP(ctx context.Context, url string) error {
	for {
		code, _, err := get(ctx, url)
		if err == nil && code == http.StatusOK {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer 200 (last: %d, %v)", url, code, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// metricsExcerpt is what PrintMetrics leaves out: the ping histogram's
// buckets, and the zeros of the one-hot gauges (a server's other roles,
// the manager's other states).
var metricsExcerpt = regexp.MustCompile(`_bucket|^gomha_(server_role|manager_state)\{.*\} 0$`)

// PrintMetrics shows a curl of base/metrics, grepped for gomha's own
// figures (without metricsExcerpt), and what it prints (the GET is made
// here: no curl needed).
func PrintMetrics(ctx context.Context, base string) error {
	url := base + "/metrics"
	fmt.Printf("$ curl -s %s | grep '^gomha_' | grep -vE '%s'\n", url, metricsExcerpt)
	code, body, err := get(ctx, url)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("GET %s: %d", url, code)
	}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "gomha_") && !metricsExcerpt.MatchString(line) {
			fmt.Println(line)
		}
	}
	return sc.Err()
}

func get(ctx context.Context, url string) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp.StatusCode, string(b), err
}

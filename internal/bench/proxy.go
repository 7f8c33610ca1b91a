package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gomha/gomha/failover"
	"github.com/gomha/gomha/internal/haproxy"
	"github.com/gomha/gomha/manager"
	"github.com/gomha/gomha/sandbox"
	"github.com/gomha/gomha/topology"
)

// The "proxy" rows: the write downtime an application connected through
// HAProxy (docs/haproxy.cfg, its checks asking the manager's routes) sees,
// beside a writer that finds the master itself, both writing during the
// same switchover and the same crash. Addresses: 127.0.6.31-33 for the
// sandbox, the manager's API on 127.0.6.3, HAProxy on 127.0.6.4 (the
// tests of internal/haproxy use 127.0.6.1-13).
const (
	proxySubnet  = "127.0.6"
	proxyOctet   = 30
	proxyManager = "127.0.6.3:0"
	proxyWrite   = "127.0.6.4:3306"
	proxyRead    = "127.0.6.4:3307"
)

// proxyPhase is one measured phase of a proxy run.
type proxyPhase struct {
	direct, proxied time.Duration // write downtime of each writer
	lostDirect      int
	lostProxied     int
	// routed is when the new master's route answered 200: after the kill
	// (crash), after the manager's restart (switchover).
	routed time.Duration
}

type proxyRun struct{ switchover, crash proxyPhase }

// runProxy deploys a sandbox, its manager with the API and HAProxy, then
// switches host1 -> host2 online (the manager stopped for it and started
// again, as the README says) and kills host2's mysqld, each under a direct
// and a proxied writer.
func runProxy(ctx context.Context, example []byte, dir string, logger *slog.Logger) (proxyRun, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	c, err := sandbox.Up(ctx, sandbox.Options{Dir: dir, Hosts: 3, GTID: true, Subnet: proxySubnet, BaseOctet: proxyOctet, Logger: logger})
	if err != nil {
		return proxyRun{}, err
	}
	defer c.Destroy(context.Background())
	reports := make(chan *failover.Report, 1)
	s, err := haproxy.Up(ctx, haproxy.StackOptions{Cluster: c, Example: example, Dir: filepath.Join(dir, "haproxy"),
		ManagerListen: proxyManager, Write: proxyWrite, Read: proxyRead, Logger: logger,
		OnFailover: func(rep *failover.Report, err error) {
			if err == nil {
				select {
				case reports <- rep:
				default:
				}
			}
		}})
	if err != nil {
		return proxyRun{}, err
	}
	defer s.Down()
	var run proxyRun
	if run.switchover, err = proxySwitchover(ctx, s, logger); err != nil {
		return run, fmt.Errorf("switchover: %w", err)
	}
	if run.crash, err = proxyCrash(ctx, s, reports, logger); err != nil {
		return run, fmt.Errorf("crash: %w", err)
	}
	return run, nil
}

// writerPair is a writer that finds the master itself and one that
// connects through HAProxy, on tables of their own.
type writerPair struct{ direct, proxied *sandbox.Writer }

func startPair(ctx context.Context, s *haproxy.Stack, master string, logger *slog.Logger) (writerPair, error) {
	if _, err := s.Manager.WaitRoute(ctx, "route", master, 200); err != nil {
		return writerPair{}, err
	}
	d, err := sandbox.StartWriter(ctx, s.Cluster, sandbox.WriterOptions{Table: "direct", Logger: logger})
	if err != nil {
		return writerPair{}, err
	}
	p, err := sandbox.StartWriter(ctx, s.Cluster, sandbox.WriterOptions{Table: "proxied", Via: s.Addrs.Write, Logger: logger})
	if err != nil {
		d.Stop()
		return writerPair{}, err
	}
	wp := writerPair{d, p}
	for _, w := range []*sandbox.Writer{d, p} {
		if err := w.WaitAcked(ctx, 50); err != nil {
			wp.stop()
			return writerPair{}, err
		}
	}
	return wp, nil
}

func (wp writerPair) stop() { wp.direct.Stop(); wp.proxied.Stop() }

// finish waits until both writers committed 20 more writes on newMaster,
// stops them and measures: downtime and acknowledged writes missing on
// newMaster.
func (wp writerPair) finish(ctx context.Context, c *sandbox.Cluster, newMaster string, faultAt time.Time) (proxyPhase, error) {
	defer wp.stop()
	host := strings.TrimSuffix(newMaster, ":3306")
	for _, w := range []*sandbox.Writer{wp.direct, wp.proxied} {
		for w.LastAckHost() != host {
			select {
			case <-ctx.Done():
				return proxyPhase{}, fmt.Errorf("a writer did not reach %s: %w", newMaster, ctx.Err())
			case <-time.After(10 * time.Millisecond):
			}
		}
		if err := w.WaitAcked(ctx, w.Acked()+20); err != nil {
			return proxyPhase{}, err
		}
	}
	var ph proxyPhase
	dr, pr := wp.direct.Stop(), wp.proxied.Stop()
	var err error
	if ph.lostDirect, _, err = countLost(ctx, c, newMaster, dr, faultAt); err != nil {
		return ph, err
	}
	if ph.lostProxied, _, err = countLost(ctx, c, newMaster, pr, faultAt); err != nil {
		return ph, err
	}
	ph.direct, ph.proxied = dr.Downtime, pr.Downtime
	return ph, nil
}

func proxySwitchover(ctx context.Context, s *haproxy.Stack, logger *slog.Logger) (proxyPhase, error) {
	from, err := s.Key("host1")
	if err != nil {
		return proxyPhase{}, err
	}
	to, err := s.Key("host2")
	if err != nil {
		return proxyPhase{}, err
	}
	wp, err := startPair(ctx, s, from, logger)
	if err != nil {
		return proxyPhase{}, err
	}
	start := time.Now()
	if err := s.Manager.StopCluster(ctx); err != nil {
		wp.stop()
		return proxyPhase{}, err
	}
	key, _ := topology.ParseKey(to)
	if rep, err := manager.RunSwitchover(ctx, s.Manager.Config, manager.SwitchOptions{NewMaster: key, OrigIsNewSlave: true, Logger: logger}); err != nil {
		wp.stop()
		return proxyPhase{}, fmt.Errorf("%w\n%s", err, rep)
	}
	restart := time.Now()
	if err := s.Manager.Restart(); err != nil {
		wp.stop()
		return proxyPhase{}, err
	}
	routed, err := s.Manager.WaitRoute(ctx, "route", to, 200)
	if err != nil {
		wp.stop()
		return proxyPhase{}, err
	}
	ph, err := wp.finish(ctx, s.Cluster, to, start)
	ph.routed = routed.Sub(restart)
	return ph, err
}

func proxyCrash(ctx context.Context, s *haproxy.Stack, reports <-chan *failover.Report, logger *slog.Logger) (proxyPhase, error) {
	master, err := s.Key("host2")
	if err != nil {
		return proxyPhase{}, err
	}
	wp, err := startPair(ctx, s, master, logger)
	if err != nil {
		return proxyPhase{}, err
	}
	kill := time.Now()
	if err := s.Cluster.KillMysqld(ctx, "host2"); err != nil {
		wp.stop()
		return proxyPhase{}, err
	}
	var rep *failover.Report
	select {
	case rep = <-reports:
	case <-ctx.Done():
		wp.stop()
		return proxyPhase{}, fmt.Errorf("no failover: %w", ctx.Err())
	}
	routed, err := s.Manager.WaitRoute(ctx, "route", rep.NewMaster, 200)
	if err != nil {
		wp.stop()
		return proxyPhase{}, err
	}
	ph, err := wp.finish(ctx, s.Cluster, rep.NewMaster, kill)
	ph.routed = routed.Sub(kill)
	return ph, err
}

// benchProxy runs the proxy rows and prints their table.
func benchProxy(ctx context.Context, runs int, examplePath, work string, logger *slog.Logger) error {
	example, err := haproxy.ReadExample(examplePath)
	if err != nil {
		return err
	}
	var sw, cr []proxyPhase
	for i := range runs {
		r, err := runProxy(ctx, example, filepath.Join(work, fmt.Sprintf("proxy-%d", i)), logger)
		if err != nil {
			return fmt.Errorf("run %d: %w", i+1, err)
		}
		fmt.Fprintf(os.Stderr, "bench: %-22s run %d: switchover %s direct, %s through HAProxy; crash %s direct, %s through HAProxy\n",
			"proxy", i+1, ms(r.switchover.direct), ms(r.switchover.proxied), ms(r.crash.direct), ms(r.crash.proxied))
		sw, cr = append(sw, r.switchover), append(cr, r.crash)
	}
	printProxy(sw, cr)
	return nil
}

func printProxy(sw, cr []proxyPhase) {
	fmt.Println("\nclients through HAProxy (docs/haproxy.cfg; its checks ask the manager's routes), beside a writer that finds the master itself, same runs:")
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\truns\twrite downtime, direct\tthrough HAProxy\tnew master's route 200\tlost writes (direct / HAProxy)\t")
	for _, r := range []struct {
		title, routed string
		ph            []proxyPhase
	}{
		{"master mysqld crash, replicas in sync", "after the kill", cr},
		{"online switchover: gomha stop, gomha switch, manager started again", "after the restart", sw},
	} {
		var d, p, rt []time.Duration
		ld, lp := 0, 0
		for _, x := range r.ph {
			d, p, rt = append(d, x.direct), append(p, x.proxied), append(rt, x.routed)
			ld, lp = ld+x.lostDirect, lp+x.lostProxied
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s %s\t%d / %d\t\n", r.title, len(r.ph), secs(median(d)), secs(median(p)),
			secs(median(rt)), r.routed, ld, lp)
	}
	tw.Flush()
	fmt.Println("medians over the runs; the proxied writer reconnects every 10 ms through HAProxy after an error; lost = acknowledged")
	fmt.Println("commits missing on the new master (sum over the runs).")
}

func ms(d time.Duration) string { return d.Round(time.Millisecond).String() }

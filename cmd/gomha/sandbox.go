package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/gomha/gomha/sandbox"
)

func newSandboxCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "sandbox",
		Short: "Deploy and break local replication clusters (mariadbd + sshd per 127.0.0.x host)",
		Long: `A sandbox is an N-host MariaDB replication cluster on this machine: host i
listens on 127.0.0.(10+i), with its own mariadbd on port 3306 and its own sshd
on port 22. host1 is the master. DIR/app1.cnf is an MHA configuration for it.
Each host's processes (mariadbd, sshd and its sessions) dial from the host's
own address, so "cut host2 host1" separates two hosts and no one else.
The sandbox starts only processes it records by pid, and stops only those.`,
	}
	cmd.PersistentFlags().StringVar(&dir, "dir", "", "sandbox directory")
	_ = cmd.MarkPersistentFlagRequired("dir")
	cmd.AddCommand(newSandboxUpCmd(&dir), newSandboxDownCmd(&dir), newSandboxStatusCmd(&dir), newSandboxEtcdCmd(&dir))
	faults := []struct {
		use, short string
		do         func(*sandbox.Cluster) func(cmd *cobra.Command, host string) error
	}{
		{"kill-mysqld", "SIGKILL the host's mariadbd", func(c *sandbox.Cluster) func(*cobra.Command, string) error {
			return func(cmd *cobra.Command, h string) error { return c.KillMysqld(cmd.Context(), h) }
		}},
		{"stop-mysqld", "shut the host's mariadbd down cleanly", func(c *sandbox.Cluster) func(*cobra.Command, string) error {
			return func(cmd *cobra.Command, h string) error { return c.StopMysqld(cmd.Context(), h) }
		}},
		{"start-mysqld", "start the host's mariadbd again", func(c *sandbox.Cluster) func(*cobra.Command, string) error {
			return func(cmd *cobra.Command, h string) error { return c.StartMysqld(cmd.Context(), h) }
		}},
		{"kill-host", "SIGKILL the host's mariadbd and sshd", func(c *sandbox.Cluster) func(*cobra.Command, string) error {
			return func(cmd *cobra.Command, h string) error { return c.KillHost(cmd.Context(), h) }
		}},
		{"start-host", "start the host's mariadbd and sshd again", func(c *sandbox.Cluster) func(*cobra.Command, string) error {
			return func(cmd *cobra.Command, h string) error { return c.StartHost(cmd.Context(), h) }
		}},
		{"isolate", "drop every packet to or from the host's address", func(c *sandbox.Cluster) func(*cobra.Command, string) error {
			return func(cmd *cobra.Command, h string) error { return c.Isolate(cmd.Context(), h) }
		}},
		{"heal", "undo isolate and every cut of the host", func(c *sandbox.Cluster) func(*cobra.Command, string) error {
			return func(cmd *cobra.Command, h string) error { return c.Heal(cmd.Context(), h) }
		}},
		{"freeze", "SIGSTOP the host's mariadbd: connections are accepted, never greeted", func(c *sandbox.Cluster) func(*cobra.Command, string) error {
			return func(cmd *cobra.Command, h string) error { return c.Freeze(cmd.Context(), h) }
		}},
		{"thaw", "SIGCONT the host's mariadbd: undo freeze", func(c *sandbox.Cluster) func(*cobra.Command, string) error {
			return func(cmd *cobra.Command, h string) error { return c.Thaw(cmd.Context(), h) }
		}},
	}
	cmd.AddCommand(newSandboxPairCmd(&dir, "cut", "drop every packet between two hosts, both ways; both still reach the others",
		func(c *sandbox.Cluster) func(*cobra.Command, string, string) error {
			return func(cmd *cobra.Command, a, b string) error { return c.Cut(cmd.Context(), a, b) }
		}))
	cmd.AddCommand(newSandboxPairCmd(&dir, "join", "undo cut between two hosts",
		func(c *sandbox.Cluster) func(*cobra.Command, string, string) error {
			return func(cmd *cobra.Command, a, b string) error { return c.Join(cmd.Context(), a, b) }
		}))
	for _, f := range faults {
		cmd.AddCommand(&cobra.Command{
			Use:   f.use + " HOST",
			Short: f.short + " (HOST: host2 or 127.0.0.12)",
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := openSandbox(cmd, dir)
				if err != nil {
					return err
				}
				if err := f.do(c)(cmd, args[0]); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s: done\n", f.use, args[0])
				return nil
			},
		})
	}
	return cmd
}

// newSandboxPairCmd builds a fault command on two hosts (cut, join).
func newSandboxPairCmd(dir *string, use, short string, do func(*sandbox.Cluster) func(*cobra.Command, string, string) error) *cobra.Command {
	return &cobra.Command{
		Use:     use + " HOST HOST",
		Short:   short + " (HOST: host2 or 127.0.0.12)",
		Example: fmt.Sprintf("  gomha sandbox %s --dir /tmp/sb host2 host1", use),
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := openSandbox(cmd, *dir)
			if err != nil {
				return err
			}
			if err := do(c)(cmd, args[0], args[1]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s %s: done\n", use, args[0], args[1])
			return nil
		},
	}
}

func cliLogger(cmd *cobra.Command) *slog.Logger {
	return slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func openSandbox(cmd *cobra.Command, dir string) (*sandbox.Cluster, error) {
	c, err := sandbox.Open(dir)
	if err != nil {
		return nil, err
	}
	c.SetLogger(cliLogger(cmd))
	return c, nil
}

func newSandboxUpCmd(dir *string) *cobra.Command {
	var opts sandbox.Options
	var noGTID bool
	cmd := &cobra.Command{
		Use:     "up --dir DIR [--hosts N] [--gtid | --no-gtid]",
		Short:   "Create and start a replication cluster",
		Example: "  gomha sandbox up --hosts 3 --dir /tmp/sb\n  gomha sandbox up --hosts 4 --no-gtid --binlog-format STATEMENT --dir /tmp/sb",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Dir, opts.GTID, opts.Logger = *dir, !noGTID, cliLogger(cmd)
			c, err := sandbox.Up(cmd.Context(), opts)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "sandbox up: %d hosts in %s (%s replication), master %s\nconfiguration: %s\n",
				len(c.Hosts), c.UpDuration.Round(1e6), mode(c.GTID), c.Master().Addr, c.ConfPath)
			return nil
		},
	}
	cmd.Flags().IntVar(&opts.Hosts, "hosts", 3, "number of hosts (host1 is the master)")
	cmd.Flags().Bool("gtid", true, "replicas use GTID positioning (MASTER_USE_GTID=slave_pos)")
	cmd.Flags().BoolVar(&noGTID, "no-gtid", false, "replicas use file/position replication")
	cmd.Flags().StringVar(&opts.BinlogFormat, "binlog-format", "ROW", "ROW, MIXED or STATEMENT")
	cmd.Flags().StringVar(&opts.Subnet, "subnet", "127.0.0", "first three octets of the hosts' addresses")
	cmd.Flags().IntVar(&opts.BaseOctet, "base-octet", 10, "host i gets SUBNET.(BASE+i)")
	return cmd
}

func mode(gtid bool) string {
	if gtid {
		return "GTID"
	}
	return "file/position"
}

func newSandboxDownCmd(dir *string) *cobra.Command {
	return newDownCmd(dir, "sandbox", "Stop every process the sandbox started (and remove DIR with --remove)",
		"also remove the sandbox directory", sandbox.Open, func(*sandbox.Cluster) string { return *dir })
}

// downer is what `down` does to either kind of sandbox.
type downer interface {
	SetLogger(*slog.Logger)
	Down(context.Context) error
	Destroy(context.Context) error
}

// newDownCmd builds the `down` of a kind of sandbox ("sandbox", "etcd
// sandbox"): a missing DIR is no sandbox, not an error; open loads the one in
// DIR, and done says what was stopped, after "<kind> down: ".
func newDownCmd[C downer](dir *string, kind, short, removeUsage string, open func(string) (C, error), done func(C) string) *cobra.Command {
	var remove bool
	cmd := &cobra.Command{
		Use:   "down --dir DIR",
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := os.Stat(*dir); os.IsNotExist(err) {
				fmt.Fprintf(cmd.OutOrStdout(), "no %s in %s\n", kind, *dir)
				return nil
			}
			c, err := open(*dir)
			if err != nil {
				return err
			}
			c.SetLogger(cliLogger(cmd))
			if remove {
				err = c.Destroy(cmd.Context())
			} else {
				err = c.Down(cmd.Context())
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s down: %s\n", kind, done(c))
			return nil
		},
	}
	cmd.Flags().BoolVar(&remove, "remove", false, removeUsage)
	return cmd
}

func newSandboxStatusCmd(dir *string) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "status --dir DIR",
		Short: "Show each host's processes, role and replication threads",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := openSandbox(cmd, *dir)
			if err != nil {
				return err
			}
			st, err := c.Status(cmd.Context())
			if err != nil {
				return err
			}
			if output == "json" {
				return writeJSON(cmd.OutOrStdout(), st)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "HOST\tADDRESS\tMYSQLD\tSSHD\tROLE\tSOURCE\tIO\tSQL\tREAD_ONLY\tNOTE")
			for _, s := range st {
				note := s.Err
				if len(s.CutFrom) > 0 {
					note = "cut from " + strings.Join(s.CutFrom, ",") + " " + note
				}
				if s.Isolated {
					note = "isolated " + note
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%v\t%s\n", s.Host.Name, s.Host.Addr, running(s.MysqldRunning, s.MysqldPID),
					running(s.SSHDRunning, s.SSHDPID), dash(s.Role), dash(s.MasterAddr), dash(s.IORunning), dash(s.SQLRunning), s.ReadOnly, note)
			}
			return tw.Flush()
		},
	}
	outputFlag(cmd, &output)
	return cmd
}

func running(ok bool, pid int) string {
	if ok {
		return fmt.Sprintf("up (%d)", pid)
	}
	return "down"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

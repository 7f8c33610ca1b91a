//go:build tools

// Package deps pins the modules gomha builds on so that go mod tidy keeps
// them while packages that use them are being written.
package deps

import (
	_ "github.com/go-mysql-org/go-mysql/replication"
	_ "github.com/go-sql-driver/mysql"
	_ "github.com/spf13/cobra"
	_ "golang.org/x/crypto/ssh"
	_ "golang.org/x/crypto/ssh/agent"
	_ "golang.org/x/crypto/ssh/knownhosts"
	_ "golang.org/x/sync/errgroup"
	_ "gopkg.in/ini.v1"
)

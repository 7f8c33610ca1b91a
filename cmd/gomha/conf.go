package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gomha/gomha/manager/config"
)

// loadConfig loads the configuration of a command and prints, on standard
// error, one line per finding that does not stop it (e.g. a boolean
// written "yes", read as MHA reads it).
func loadConfig(cmd *cobra.Command, conf, global string) (*config.Config, error) {
	cfg, err := loadConfigQuiet(cmd.Context(), conf, global)
	if err != nil {
		return nil, err
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintf(cmd.ErrOrStderr(), "gomha: warning: %s\n", w)
	}
	return cfg, nil
}

// loadConfigQuiet loads the configuration without a word on warnings
// (masterha_check_status prints one line and nothing else).
func loadConfigQuiet(ctx context.Context, conf, global string) (*config.Config, error) {
	cfg, err := config.Load(ctx, conf, config.Options{GlobalFile: global})
	return cfg, withCode(1, err)
}

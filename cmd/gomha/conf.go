package main

import (
	"context"

	"github.com/gomha/gomha/manager/config"
)

func loadConfig(ctx context.Context, conf, global string) (*config.Config, error) {
	cfg, err := config.Load(ctx, conf, config.Options{GlobalFile: global})
	return cfg, withCode(1, err)
}

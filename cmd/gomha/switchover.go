package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/gomha/gomha/manager/config"
)

// switchFlags are the options of an online switchover.
type switchFlags struct {
	newHost string
	newPort int
}

func (s *switchFlags) register(cmd *cobra.Command, mha bool) {}

func runSwitchover(cmd *cobra.Command, cfg *config.Config, s *switchFlags, output string) error {
	return withCode(1, errors.New("online switchover is not implemented yet"))
}

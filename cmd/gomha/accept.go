package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Flag annotations. A flag gomha takes so that MHA command lines keep
// working, but does not honour as MHA does, carries annAccepted: what gomha
// does instead. Giving it prints that on standard error, once, unless its
// value is one of annQuiet (values under which gomha does what MHA does).
// annGroup names the usage section of an MHA command's flag.
const (
	annAccepted = "gomha_accepted"
	annQuiet    = "gomha_quiet"
	annGroup    = "gomha_group"
	annAlias    = "gomha_alias"
)

// alias marks name as another spelling of the option of (MHA binds both to
// one variable): usage shows them on one line.
func alias(cmd *cobra.Command, of string, names ...string) {
	for _, n := range names {
		_ = cmd.Flags().SetAnnotation(n, annAlias, []string{of})
	}
}

// accepted marks name as taken for compatibility only; instead says what
// gomha does. Quiet values print no warning.
func accepted(cmd *cobra.Command, name, instead string, quiet ...string) {
	fl := cmd.Flags()
	_ = fl.SetAnnotation(name, annAccepted, []string{instead})
	if len(quiet) > 0 {
		_ = fl.SetAnnotation(name, annQuiet, quiet)
	}
	if f := fl.Lookup(name); f != nil && f.Usage == "" {
		f.Usage = instead
	}
}

// acceptBools registers boolean flags that are accepted with a warning.
func acceptBools(cmd *cobra.Command, instead string, names ...string) {
	for _, n := range names {
		cmd.Flags().Bool(n, false, "")
		accepted(cmd, n, instead, "false")
	}
}

// acceptInts registers integer flags that are accepted with a warning
// unless given 0 (MHA's default for these: no waiting, no prompting).
func acceptInts(cmd *cobra.Command, instead string, names ...string) {
	for _, n := range names {
		cmd.Flags().Int(n, 0, "")
		accepted(cmd, n, instead, "0")
	}
}

// acceptStrings registers string flags that are accepted with a warning.
func acceptStrings(cmd *cobra.Command, instead string, names ...string) {
	for _, n := range names {
		cmd.Flags().String(n, "", "")
		accepted(cmd, n, instead)
	}
}

// group files flags under a usage section of an MHA command.
func group(cmd *cobra.Command, title string, names ...string) {
	for _, n := range names {
		_ = cmd.Flags().SetAnnotation(n, annGroup, []string{title})
	}
}

// inGroup lists the flags of title that were given on the command line.
func inGroup(cmd *cobra.Command, title string) []string {
	var given []string
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if g := f.Annotations[annGroup]; len(g) > 0 && g[0] == title {
			given = append(given, "--"+f.Name)
		}
	})
	return given
}

// warnAccepted prints one line per accepted-only flag given.
func warnAccepted(cmd *cobra.Command, w io.Writer) {
	cmd.Flags().Visit(func(f *pflag.Flag) {
		instead := f.Annotations[annAccepted]
		if len(instead) == 0 || slices.Contains(f.Annotations[annQuiet], f.Value.String()) {
			return
		}
		given := "--" + f.Name
		if f.Value.Type() != "bool" {
			given += "=" + f.Value.String()
		}
		fmt.Fprintf(w, "gomha: %s accepted: %s\n", given, strings.TrimSuffix(instead[0], "."))
	})
}

package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// annSynopsis holds an MHA command's usage lines, one per line.
const annSynopsis = "gomha_synopsis"

func isMHA(c *cobra.Command) bool { return strings.HasPrefix(c.Name(), "masterha_") }

// mhaHelp is --help under an MHA name: what the command does, then its
// usage as MHA spells it.
func mhaHelp(c *cobra.Command, _ []string) {
	w := c.OutOrStdout()
	fmt.Fprintf(w, "%s - %s\n\n", c.Name(), c.Short)
	writeMHAUsage(w, c)
}

// mhaUsage is the usage of an MHA command (cobra calls it on usage errors
// when usage is not silenced).
func mhaUsage(c *cobra.Command) error {
	writeMHAUsage(c.OutOrStderr(), c)
	return nil
}

// writeMHAUsage prints the synopsis and the options in MHA's
// --option=value spelling, by section.
func writeMHAUsage(w io.Writer, c *cobra.Command) {
	for i, line := range strings.Split(c.Annotations[annSynopsis], "\n") {
		if i == 0 {
			fmt.Fprintln(w, "Usage: "+line)
		} else {
			fmt.Fprintln(w, "       "+line)
		}
	}
	var titles []string
	sections := map[string][]*pflag.Flag{}
	aliases := map[string][]string{}
	c.Flags().VisitAll(func(f *pflag.Flag) {
		if of := f.Annotations[annAlias]; len(of) > 0 {
			aliases[of[0]] = append(aliases[of[0]], "--"+f.Name)
		}
	})
	c.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Hidden || len(f.Annotations[annAlias]) > 0 {
			return
		}
		title := "Options"
		if g := f.Annotations[annGroup]; len(g) > 0 {
			title = g[0]
		}
		if len(f.Annotations[annAccepted]) > 0 {
			title = "Accepted for MHA's sake, handled differently"
		}
		if _, ok := sections[title]; !ok {
			titles = append(titles, title)
		}
		sections[title] = append(sections[title], f)
	})
	for _, t := range titles {
		fmt.Fprintf(w, "\n%s:\n", t)
		for _, f := range sections[t] {
			spelled, usage := mhaSpelling(f)
			if a := aliases[f.Name]; len(a) > 0 {
				usage += " (also " + strings.Join(a, ", ") + ")"
			}
			fmt.Fprintf(w, "  %-36s %s\n", spelled, usage)
		}
	}
}

// mhaSpelling renders a flag as MHA documents it: --name=<value>.
func mhaSpelling(f *pflag.Flag) (string, string) {
	name, usage := pflag.UnquoteUsage(f)
	if instead := f.Annotations[annAccepted]; len(instead) > 0 {
		switch name {
		case "":
			return "--" + f.Name, instead[0]
		case "int":
			return "--" + f.Name + "=<N>", instead[0]
		}
		return "--" + f.Name + "=<value>", instead[0]
	}
	switch {
	case name == "":
		return "--" + f.Name, usage
	case name == "string":
		name = "value"
	case name == "int":
		name = "N"
	}
	s := "--" + f.Name + "=<" + name + ">"
	if f.Value.Type() != "bool" && f.DefValue != "" && f.DefValue != "0" {
		usage += " (default " + f.DefValue + ")"
	}
	return s, usage
}

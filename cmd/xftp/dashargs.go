package main

import (
	"strings"

	"github.com/spf13/cobra"
)

// dashValues lets codes, IDs, fingerprints and proofs that start with '-'
// (a base64url value does, once in 64) be given like any other argument.
// The flag parser would take "-WPyar…" for a bundle of short flags, so an
// argument that looks like such a value, is not the value of the flag
// before it, and comes before any "--", is moved after a "--" (keeping the
// order of the moved ones). Everything else is left as it is.
func dashValues(root *cobra.Command, args []string) []string {
	cmd, _, err := root.Find(args)
	if err != nil {
		return args
	}
	var kept, moved []string
	for i, a := range args {
		if a == "--" {
			if len(moved) == 0 {
				return args
			}
			return append(append(kept, args[i:]...), moved...)
		}
		if looksLikeValue(a) && !takesValue(cmd, args, i) {
			moved = append(moved, a)
			continue
		}
		kept = append(kept, a)
	}
	if len(moved) == 0 {
		return args
	}
	return append(append(kept, "--"), moved...)
}

// looksLikeValue: a single dash, then at least 15 base64url characters.
// No flag of ours is spelled like that.
func looksLikeValue(a string) bool {
	if len(a) < 16 || a[0] != '-' || a[1] == '-' {
		return false
	}
	for _, c := range a[1:] {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// takesValue reports whether args[i] is the value of the flag before it
// ("--notice -abc…").
func takesValue(cmd *cobra.Command, args []string, i int) bool {
	if i == 0 {
		return false
	}
	prev := args[i-1]
	if !strings.HasPrefix(prev, "-") || strings.Contains(prev, "=") {
		return false
	}
	name := strings.TrimLeft(prev, "-")
	fs := cmd.Flags()
	f := fs.Lookup(name)
	if f == nil && len(name) == 1 {
		f = fs.ShorthandLookup(name)
	}
	if f == nil {
		f = cmd.InheritedFlags().Lookup(name)
	}
	return f != nil && f.NoOptDefVal == ""
}

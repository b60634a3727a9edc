package main

import (
	"slices"
	"testing"
)

func TestDashValues(t *testing.T) {
	const v = "-WPyarGETIysbev9U-PX6yonrIDEh3vaXRXDgFTbpBE" // a fingerprint that starts with '-'
	root := newRoot()
	for _, tc := range []struct{ in, want []string }{
		{[]string{"restrictions", "clear", v}, []string{"restrictions", "clear", "--", v}},
		{[]string{"admin", "appeal", v, "--force"}, []string{"admin", "appeal", "--force", "--", v}},
		// The value of a flag stays where it is.
		{[]string{"report", "d.xftp", "--contact", v}, []string{"report", "d.xftp", "--contact", v}},
		// Flags, short values and anything after "--" are left alone.
		{[]string{"download", "d.xftp", "-o", "out", "-q"}, []string{"download", "d.xftp", "-o", "out", "-q"}},
		{[]string{"restrictions", "clear", "--", v}, []string{"restrictions", "clear", "--", v}},
		{[]string{"restrictions", "clear", "-notbase64!!!!!!!!"}, []string{"restrictions", "clear", "-notbase64!!!!!!!!"}},
	} {
		if got := dashValues(root, tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("dashValues(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	// And the command line parses: the value reaches the command.
	t.Setenv("XFTP_HOME", t.TempDir())
	root = newRoot()
	root.SetArgs(dashValues(root, []string{"restrictions", "clear", v}))
	if err := root.Execute(); err != nil {
		t.Fatalf("restrictions clear with a value that starts with '-': %v", err)
	}
}

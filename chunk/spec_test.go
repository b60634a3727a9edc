package chunk

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// docBlock returns the lines of the first fenced block after marker in
// docs/PROTOCOL.md.
func docBlock(t *testing.T, doc, marker string) []string {
	t.Helper()
	_, rest, ok := strings.Cut(doc, marker)
	if !ok {
		t.Fatalf("docs/PROTOCOL.md lacks %q", marker)
	}
	_, rest, _ = strings.Cut(rest, "```\n")
	block, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatalf("no block after %q", marker)
	}
	return strings.Split(strings.TrimSuffix(block, "\n"), "\n")
}

// vectorLines returns the lines of a testdata file without comments.
func vectorLines(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for l := range strings.Lines(string(b)) {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// TestProtocolDocShowsTheFileVectors keeps docs/PROTOCOL.md §8 equal to
// testdata/plan.txt and testdata/seal.txt (whose digests an independent
// implementation made: testdata/gen/gen.mjs), and its table from file size
// to chunks equal to Plan.
func TestProtocolDocShowsTheFileVectors(t *testing.T) {
	b, err := os.ReadFile("../docs/PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)

	// Plan vectors: three to a line, columns two or more spaces apart.
	var shown []string
	for _, l := range docBlock(t, doc, "Plan vectors (`chunk/testdata/plan.txt`") {
		shown = append(shown, regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(l), -1)...)
	}
	if want := vectorLines(t, "plan.txt"); !slices.Equal(shown, want) {
		t.Errorf("§8.2 shows the plan vectors\n%q\nplan.txt has\n%q", shown, want)
	}

	// Seal vectors: size, name, digest; more digests on lines of their own.
	var seal []string
	for _, l := range docBlock(t, doc, "Vectors (`chunk/testdata/seal.txt`") {
		f := strings.Fields(l)
		if len(f) == 1 && len(seal) > 0 {
			seal[len(seal)-1] += " " + f[0]
			continue
		}
		seal = append(seal, strings.Join(f, " "))
	}
	if want := vectorLines(t, "seal.txt"); !slices.Equal(seal, want) {
		t.Errorf("§8.3 shows the seal vectors\n%q\nseal.txt has\n%q", seal, want)
	}

	// From file size to chunks.
	row := regexp.MustCompile(`(?m)^\| (\d+)( MiB)? \| (\d+) \| (\d+) \| ([^|]+) \|$`)
	rows := row.FindAllStringSubmatch(doc, -1)
	if len(rows) < 6 {
		t.Fatalf("§8.2's table from file size to chunks has %d rows", len(rows))
	}
	for _, r := range rows {
		size, _ := strconv.ParseInt(r[1], 10, 64)
		if r[2] != "" {
			size <<= 20
		}
		segs := fileSegments(size)
		payload := segs * (SegmentSize + 16)
		if want := fmt.Sprintf("%d %d %s", segs, payload, sizesText(Plan(payload))); r[3]+" "+r[4]+" "+strings.TrimSpace(r[5]) != want {
			t.Errorf("§8.2: file size %d gives %s, the table %s %s %s", size, want, r[3], r[4], r[5])
		}
	}
}

// sizesText writes chunk sizes as the document does: "4 MiB ×25, 1 MiB".
func sizesText(sizes []int64) string {
	var parts []string
	for i := 0; i < len(sizes); {
		j := i
		for j < len(sizes) && sizes[j] == sizes[i] {
			j++
		}
		s := fmt.Sprintf("%d KiB", sizes[i]>>10)
		if sizes[i] >= 1<<20 {
			s = fmt.Sprintf("%d MiB", sizes[i]>>20)
		}
		if j-i > 1 {
			s += fmt.Sprintf(" ×%d", j-i)
		}
		parts = append(parts, s)
		i = j
	}
	return strings.Join(parts, ", ")
}

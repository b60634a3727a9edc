package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestModerationEndToEnd runs the moderation loop with the real binaries:
// a recipient reports a file, the moderator blocks it from the report, the
// sender's status finds the block and its restriction, the operator grants
// an appeal and the sender lifts the restriction with the proof.
func TestModerationEndToEnd(t *testing.T) { runModeration(t) }

// TestModerationEndToEndRedis is the same with records, blocklist and
// reports in Redis.
func TestModerationEndToEndRedis(t *testing.T) {
	rd := startAOFRedis(t)
	var pfx [6]byte
	rand.Read(pfx[:])
	cfg := filepath.Join(t.TempDir(), "xftpd.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("records:\n  backend: redis\nredis:\n  address: %s\n  prefix: \"xftp-e2e-mod-%s:\"\n",
		rd.addr(), hex.EncodeToString(pfx[:]))), 0o600)
	runModeration(t, "--config", cfg)
}

func runModeration(t *testing.T, daemonArgs ...string) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	t.Setenv("XFTPD_LIMITS_REPORTS_PER_MINUTE", "3") // per source: every client here is 127.0.0.1
	d := startDaemon(t, data, daemonArgs...)
	other := startDaemon(t, filepath.Join(dir, "other")) // a second operator
	adminOf := func(data string) []string {
		url, err := os.ReadFile(filepath.Join(data, "admin.address"))
		if err != nil {
			t.Fatal(err)
		}
		return []string{"--admin", strings.TrimSpace(string(url)), "--token-file", filepath.Join(data, "admin.token")}
	}
	admin := func(args ...string) []string { return append(args, adminOf(data)...) }
	sender, recipient := filepath.Join(dir, "sender"), filepath.Join(dir, "recipient")

	file := filepath.Join(dir, "leak.bin")
	writeRandom(t, file, 1000)
	mustOK(t, xftpIn(t, sender, "upload", file, "--server", d.addr, "--recipients", "2", "-q"), "upload")
	folder := file + ".xftp"
	snd := filepath.Join(folder, "snd.xftp.private")
	st := xftpIn(t, sender, "status", snd)
	mustOK(t, st, "status")
	if !strings.Contains(st.stdout, "chunk 1 on ") || !strings.Contains(st.stdout, ": uploaded; downloaded by 0 recipient(s), acknowledged by 0") {
		t.Fatalf("status of a fresh upload:\n%s", st.stdout)
	}
	// One recipient downloads and acknowledges: the sender sees counts.
	mustOK(t, xftpIn(t, recipient, "download", filepath.Join(folder, "rcv2.xftp"), "-o", filepath.Join(dir, "got"), "-q"), "download")
	if st := xftpIn(t, sender, "status", snd); !strings.Contains(st.stdout, "downloaded by 1 recipient(s), acknowledged by 1") {
		t.Fatalf("status after one download:\n%s%s", st.stdout, st.stderr)
	}
	mustFail(t, xftpIn(t, recipient, "status", filepath.Join(folder, "rcv1.xftp")), "status with a recipient's description", "sender")

	// Reports: anyone with a recipient description, no account.
	rcv1 := filepath.Join(folder, "rcv1.xftp")
	rep := xftpIn(t, recipient, "report", rcv1, "--reason", "content", "--contact", "mod@example.org")
	mustOK(t, rep, "report")
	if !strings.Contains(rep.stdout, "chunk 1 on "+listenOf(d.addr)) && !strings.Contains(rep.stdout, ": reported") {
		t.Fatalf("report output:\n%s", rep.stdout)
	}
	mustOK(t, xftpIn(t, recipient, "report", rcv1, "--reason", "spam"), "second report")
	mustFail(t, xftpIn(t, recipient, "report", filepath.Join(folder, "rcv1.xftp"), "--reason", "Not A Reason"), "report with a bad reason", "reason")
	mustFail(t, xftpIn(t, recipient, "report", snd, "--reason", "spam"), "report with the sender's description", "recipient")
	// A flood from one source is refused (3 a minute here).
	mustOK(t, xftpIn(t, recipient, "report", rcv1, "--reason", "spam"), "third report")
	flood := xftpIn(t, recipient, "report", rcv1, "--reason", "spam")
	mustFail(t, flood, "fourth report within a minute", "no server took the report")
	if !strings.Contains(flood.stdout, "429") && !strings.Contains(flood.stdout, "RATE") {
		t.Fatalf("flooded report answered:\n%s", flood.stdout)
	}

	// The moderator sees one report for the chunk and blocks from it.
	list := xftp(t, admin("admin", "reports")...)
	mustOK(t, list, "admin reports")
	lines := strings.Split(strings.TrimSpace(list.stdout), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "3 report(s)") || !strings.Contains(lines[0], "content×1") ||
		!strings.Contains(lines[0], "spam×2") || !strings.Contains(lines[0], `"mod@example.org"`) {
		t.Fatalf("admin reports:\n%s", list.stdout)
	}
	reportID := strings.Fields(lines[0])[1]
	blk := xftp(t, admin("admin", "reports", "block", reportID, "--reason", "content", "--notice", "reported by a recipient",
		"--ttl", "720h", "--restrict", "no_uploads")...)
	mustOK(t, blk, "admin reports block")
	_, after, ok := strings.Cut(blk.stdout, "case ")
	if !ok {
		t.Fatalf("block from report:\n%s", blk.stdout)
	}
	caseCode := strings.Fields(after)[0]
	if l := xftp(t, admin("admin", "reports")...); strings.Contains(l.stdout, reportID) {
		t.Fatalf("the report is still open after its block:\n%s", l.stdout)
	}

	// The sender's status discovers the block; the next upload to this
	// operator is refused before anything is sent.
	st = xftpIn(t, sender, "status", snd)
	mustOK(t, st, "status of the blocked file")
	if !strings.Contains(st.stdout, "blocked: chunk 1 of 1 is blocked by the operator of") || !strings.Contains(st.stdout, "case "+caseCode) ||
		!strings.Contains(st.stdout, "now refused by this client: uploads to this operator") {
		t.Fatalf("status of the blocked file:\n%s", st.stdout)
	}
	if r := xftpIn(t, sender, "restrictions"); !strings.Contains(r.stdout, "no_uploads") {
		t.Fatalf("restrictions after status:\n%s", r.stdout)
	}
	next := filepath.Join(dir, "next.bin")
	writeRandom(t, next, 1000)
	mustFail(t, xftpIn(t, sender, "upload", next, "--server", d.addr, "-q"), "upload to the restricting operator", "refusing to upload")

	// Appeals: the operator issues a proof for the case.
	ap := xftp(t, admin("admin", "appeal", caseCode)...)
	mustOK(t, ap, "admin appeal")
	proof := strings.TrimSpace(ap.stdout)
	if !strings.HasPrefix(proof, "xftp:unblock:") {
		t.Fatalf("appeal printed %q", ap.stdout)
	}
	// A forged proof (a bit changed), a proof for another case of this
	// operator and another operator's proof for the same case are refused.
	forged := []byte(proof)
	forged[len(forged)-10] ^= 1 // inside the signature
	if forged[len(forged)-10] == '-' || forged[len(forged)-10] == '_' {
		forged[len(forged)-10] = 'A'
	}
	mustFail(t, xftpIn(t, sender, "restrictions", "lift", string(forged)), "forged proof", "not valid")
	otherCase := xftp(t, admin("admin", "appeal", "AAAAAAAAAAAAAAAAAAAAAA", "--force")...)
	mustOK(t, otherCase, "forced appeal for another case")
	mustFail(t, xftpIn(t, sender, "restrictions", "lift", strings.TrimSpace(otherCase.stdout)), "proof for another case", "another case")
	otherOp := xftp(t, append([]string{"admin", "appeal", caseCode, "--force"}, adminOf(filepath.Join(dir, "other"))...)...)
	mustOK(t, otherOp, "another operator's appeal")
	mustFail(t, xftpIn(t, sender, "restrictions", "lift", strings.TrimSpace(otherOp.stdout)), "another operator's proof", "no restriction of this operator")
	mustFail(t, xftpIn(t, sender, "upload", next, "--server", d.addr, "-q"), "upload after refused proofs", "refusing to upload")

	// The right proof, from a file, lifts the restriction; uploads work again.
	proofFile := filepath.Join(dir, "proof.txt")
	os.WriteFile(proofFile, []byte(proof+"\n"), 0o600)
	lift := xftpIn(t, sender, "restrictions", "lift", proofFile)
	mustOK(t, lift, "lift")
	if !strings.Contains(lift.stdout, "case "+caseCode) {
		t.Fatalf("lift:\n%s", lift.stdout)
	}
	mustOK(t, xftpIn(t, sender, "upload", next, "--server", d.addr, "-q"), "upload after the appeal")
	if r := xftpIn(t, sender, "restrictions"); !strings.Contains(r.stdout, "no restrictions") {
		t.Fatalf("restrictions after the appeal and a new upload:\n%s", r.stdout)
	}

	// Restrictions take effect without the user asking: another sender's
	// file is blocked from a description the moderator was given, and
	// that sender's next upload, asked to, checks its earlier uploads first.
	sender2 := filepath.Join(dir, "sender2")
	file2 := filepath.Join(dir, "second.bin")
	writeRandom(t, file2, 1000)
	mustOK(t, xftpIn(t, sender2, "upload", file2, "--server", d.addr, "-q"), "second sender's upload")
	mustOK(t, xftp(t, admin("admin", "block", filepath.Join(file2+".xftp", "rcv1.xftp"), "--reason", "spam", "--restrict", "no_uploads")...), "admin block")
	third := filepath.Join(dir, "third.bin")
	writeRandom(t, third, 1000)
	mustFail(t, xftpIn(t, sender2, "upload", third, "--server", d.addr, "-q", "--check-earlier-uploads"), "second sender's next upload", "refusing to upload")
	mustOK(t, xftpIn(t, sender2, "upload", third, "--server", other.addr, "-q"), "second sender's upload to another operator")

	// The audit log names the report and the appeal, never an ID or the
	// reporter's contact.
	audit := string(mustRead(t, filepath.Join(data, "admin-audit.log")))
	for _, want := range []string{`"action":"block"`, `"report":"`, `"action":"appeal"`, `"case":"` + caseCode + `"`} {
		if !strings.Contains(audit, want) {
			t.Fatalf("audit log lacks %s:\n%s", want, audit)
		}
	}
	if strings.Contains(audit, "mod@example.org") {
		t.Fatal("the audit log holds a reporter's contact")
	}
}

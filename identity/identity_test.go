package identity

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLoadOrCreate(t *testing.T) {
	p := filepath.Join(t.TempDir(), "identity.pem")
	id, created, err := LoadOrCreate(p)
	if err != nil || !created {
		t.Fatalf("first call: created=%v err=%v", created, err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	again, created, err := LoadOrCreate(p)
	if err != nil || created || again.Fingerprint() != id.Fingerprint() {
		t.Fatal("second call did not load the same key")
	}
	os.WriteFile(p, []byte("garbage"), 0o600)
	if _, _, err := LoadOrCreate(p); err == nil {
		t.Fatal("a corrupt key file was accepted")
	}
}

// Replicas sharing one identity file may start at once: all get one key.
func TestLoadOrCreateRace(t *testing.T) {
	p := filepath.Join(t.TempDir(), "identity.pem")
	var wg sync.WaitGroup
	fps := make([]Fingerprint, 8)
	for i := range fps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, _, err := LoadOrCreate(p)
			if err != nil {
				t.Error(err)
				return
			}
			fps[i] = id.Fingerprint()
		}()
	}
	wg.Wait()
	for _, f := range fps[1:] {
		if f != fps[0] {
			t.Fatal("racing replicas ended with different identities")
		}
	}
}

func TestCertificateIsTheIdentity(t *testing.T) {
	id, _, _ := LoadOrCreate(filepath.Join(t.TempDir(), "k"))
	cert, err := id.Certificate(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyCertificate(id.Fingerprint(), cert.Certificate); err != nil {
		t.Fatal(err)
	}
	other, _, _ := LoadOrCreate(filepath.Join(t.TempDir(), "k"))
	if err := VerifyCertificate(other.Fingerprint(), cert.Certificate); err == nil {
		t.Fatal("certificate verified against another fingerprint")
	}
}

func TestChallenge(t *testing.T) {
	id, _, _ := LoadOrCreate(filepath.Join(t.TempDir(), "k"))
	ch := make([]byte, 32)
	rand.Read(ch)
	sig := id.Sign(ChallengeMessage(ch))
	if err := VerifyChallenge(id.Fingerprint(), id.Public(), ch, sig); err != nil {
		t.Fatal(err)
	}
	ch2 := append([]byte{}, ch...)
	ch2[0] ^= 1
	if VerifyChallenge(id.Fingerprint(), id.Public(), ch2, sig) == nil {
		t.Fatal("signature over another challenge accepted")
	}
	var wrong Fingerprint
	if VerifyChallenge(wrong, id.Public(), ch, sig) == nil {
		t.Fatal("wrong fingerprint accepted")
	}
	if _, err := ParseFingerprint(id.Fingerprint().String()); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseFingerprint("short"); err == nil {
		t.Fatal("malformed fingerprint accepted")
	}
}

func TestLoadRefusesAKeyReadableByOthers(t *testing.T) {
	p := filepath.Join(t.TempDir(), "identity.pem")
	if _, _, err := LoadOrCreate(p); err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, 0o644)
	if _, _, err := LoadOrCreate(p); err == nil {
		t.Fatal("an identity key readable by others was accepted")
	}
}

// TestParseFingerprintIsCanonical: only a fingerprint's own text parses.
// The base64 decoder alone accepts stray bits in the last character and
// line breaks, so texts that differ named the same key.
func TestParseFingerprintIsCanonical(t *testing.T) {
	fp := Fingerprint{1, 2, 3}
	s := fp.String()
	if got, err := ParseFingerprint(s); err != nil || got != fp {
		t.Fatalf("ParseFingerprint(%q) = %s, %v", s, got, err)
	}
	for name, bad := range map[string]string{
		"stray bits":   s[:len(s)-1] + "B",
		"line break":   s[:20] + "\n" + s[20:],
		"CR":           s[:20] + "\r" + s[20:],
		"padding":      s + "=",
		"short":        s[:len(s)-1],
		"standard b64": strings.ReplaceAll(Fingerprint{0xfb, 0xff}.String(), "_", "/"),
	} {
		if got, err := ParseFingerprint(bad); err == nil {
			t.Errorf("%s: %q parses to %s", name, bad, got)
		}
	}
}

// FuzzParseFingerprint: a fingerprint has one text form; whatever parses
// is it.
func FuzzParseFingerprint(f *testing.F) {
	f.Add(Fingerprint{1, 2, 3}.String())
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		fp, err := ParseFingerprint(s)
		if err != nil {
			return
		}
		if fp.String() != s {
			t.Fatalf("%q parses to the fingerprint %s", s, fp)
		}
	})
}

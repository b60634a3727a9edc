package identity

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// Fingerprint is the SHA-256 digest of a server's Ed25519 public key.
type Fingerprint [sha256.Size]byte

// FingerprintOf returns the fingerprint of pub.
func FingerprintOf(pub ed25519.PublicKey) Fingerprint {
	return Fingerprint(sha256.Sum256(pub))
}

// String returns the unpadded base64url form used in addresses.
func (f Fingerprint) String() string { return base64.RawURLEncoding.EncodeToString(f[:]) }

// Matches reports, in constant time, whether pub has fingerprint f.
func (f Fingerprint) Matches(pub ed25519.PublicKey) bool {
	g := FingerprintOf(pub)
	return subtle.ConstantTimeCompare(f[:], g[:]) == 1
}

// ParseFingerprint parses the unpadded base64url form, which is canonical:
// a fingerprint has exactly one text form (no stray bits in the last
// character, no line breaks), so texts that differ never name the same key.
func ParseFingerprint(s string) (Fingerprint, error) {
	var f Fingerprint
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != len(f) || base64.RawURLEncoding.EncodeToString(b) != s {
		return f, fmt.Errorf("identity: malformed fingerprint %q: want %d bytes of unpadded base64url", s, len(f))
	}
	copy(f[:], b)
	return f, nil
}

// Identity is a server's long-term signing key.
type Identity struct {
	Key ed25519.PrivateKey
}

// Public returns the identity's public key.
func (id *Identity) Public() ed25519.PublicKey { return id.Key.Public().(ed25519.PublicKey) }

// Fingerprint returns the fingerprint clients pin.
func (id *Identity) Fingerprint() Fingerprint { return FingerprintOf(id.Public()) }

// Sign signs msg with the identity key.
func (id *Identity) Sign(msg []byte) []byte { return ed25519.Sign(id.Key, msg) }

const pemType = "XFTP SERVER IDENTITY KEY"

// LoadOrCreate reads the identity key from path, or creates it (mode 0600)
// if the file does not exist. created reports whether a new key was made.
func LoadOrCreate(path string) (id *Identity, created bool, err error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if fi, serr := os.Stat(path); serr == nil && fi.Mode().Perm()&0o077 != 0 {
			return nil, false, fmt.Errorf("identity: %s is readable by others (mode %v): chmod 600 it", path, fi.Mode().Perm())
		}
		blk, _ := pem.Decode(b)
		if blk == nil || blk.Type != pemType || len(blk.Bytes) != ed25519.SeedSize {
			return nil, false, fmt.Errorf("identity: %s is not an xftp identity key", path)
		}
		return &Identity{Key: ed25519.NewKeyFromSeed(blk.Bytes)}, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, fmt.Errorf("identity: %w", err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, false, err
	}
	data := pem.EncodeToMemory(&pem.Block{Type: pemType, Bytes: priv.Seed()})
	if err := CreateFile(path, data, 0o600); err != nil {
		if errors.Is(err, os.ErrExist) {
			// Another replica sharing the file created it first: use theirs.
			id, _, err := LoadOrCreate(path)
			return id, false, err
		}
		return nil, false, fmt.Errorf("identity: saving new key: %w", err)
	}
	return &Identity{Key: priv}, true, nil
}

// CreateFile writes data to path with mode, durably, only if path does
// not exist yet (else an error matching os.ErrExist), and never leaves a
// partial file there: replicas racing to create a shared key file agree
// on the first one's.
func CreateFile(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-identity-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Link(f.Name(), path); err != nil { // fails if another process won the race
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Certificate returns a self-signed TLS certificate whose key is the identity
// key itself, so the TLS handshake proves possession of the pinned key.
// hosts become the certificate's DNS names and IP addresses (informational:
// clients verify the fingerprint, not names).
func (id *Identity) Certificate(now time.Time) (tls.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "xftp " + id.Fingerprint().String()},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, id.Public(), id.Key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: id.Key, Leaf: leaf}, nil
}

// ErrWrongIdentity means a server presented a key whose fingerprint is not
// the pinned one.
var ErrWrongIdentity = errors.New("server identity does not match the fingerprint in its address")

// VerifyCertificate checks that the leaf of a TLS peer's chain carries an
// Ed25519 key with fingerprint want. It is meant for
// tls.Config.VerifyPeerCertificate with InsecureSkipVerify set: trust comes
// from the pinned fingerprint, not from a CA.
func VerifyCertificate(want Fingerprint, rawCerts [][]byte) error {
	if len(rawCerts) == 0 {
		return fmt.Errorf("%w: no certificate", ErrWrongIdentity)
	}
	cert, err := x509.ParseCertificate(rawCerts[0])
	if err != nil {
		return fmt.Errorf("%w: unreadable certificate", ErrWrongIdentity)
	}
	pub, ok := cert.PublicKey.(ed25519.PublicKey)
	if !ok || !want.Matches(pub) {
		return fmt.Errorf("%w (expected %s)", ErrWrongIdentity, want)
	}
	return nil
}

// challengeContext separates identity-challenge signatures from every other
// signature made with the identity key.
const challengeContext = "xftp identity challenge v1\x00"

// ChallengeMessage is what the server signs to answer an identity challenge:
// the context string and the client's random challenge. (It does not name
// the host: reverse proxies rewrite Host headers, and the pinned
// fingerprint already names the server.)
func ChallengeMessage(challenge []byte) []byte {
	m := make([]byte, 0, len(challengeContext)+len(challenge))
	m = append(m, challengeContext...)
	return append(m, challenge...)
}

// VerifyChallenge checks a challenge answer: pub must have fingerprint want
// and sig must sign ChallengeMessage(challenge).
func VerifyChallenge(want Fingerprint, pub ed25519.PublicKey, challenge []byte, sig []byte) error {
	if len(pub) != ed25519.PublicKeySize || !want.Matches(pub) {
		return fmt.Errorf("%w (expected %s)", ErrWrongIdentity, want)
	}
	if !ed25519.Verify(pub, ChallengeMessage(challenge), sig) {
		return fmt.Errorf("%w: bad challenge signature", ErrWrongIdentity)
	}
	return nil
}

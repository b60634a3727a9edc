package xftpserver

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"time"

	"golang.org/x/crypto/hkdf"

	"github.com/xftp/xftp/api/xftp"
	"github.com/xftp/xftp/identity"
)

// Credentials are the XFTP identity: the CA certificate (its SHA-256 is
// the key hash in xftp:// addresses) and this process's online leaf,
// which signs handshakes.
type Credentials struct {
	// CA is the DER of the CA certificate.
	CA []byte
	// KeyHash is SHA-256(CA).
	KeyHash [xftp.KeyHashSize]byte
	// Leaf is the TLS certificate with the chain [leaf, CA] that native
	// clients get, and whose key signs handshakes.
	Leaf    tls.Certificate
	LeafKey ed25519.PrivateKey
}

// caKey derives the CA's Ed25519 key from the identity key, so that the
// identity key itself never signs X.509 structures and the CA is
// recoverable from the identity alone.
func caKey(id *identity.Identity) ed25519.PrivateKey {
	r := hkdf.New(sha256.New, id.Key.Seed(), nil, []byte("xftpd XFTP CA key v1"))
	seed := make([]byte, ed25519.SeedSize)
	if _, err := io.ReadFull(r, seed); err != nil {
		panic(err) // HKDF-SHA256 yields far more than 32 bytes
	}
	return ed25519.NewKeyFromSeed(seed)
}

// caTemplate is the CA certificate; every field is a function of the key,
// and Ed25519 signatures are deterministic, so the same identity makes the
// same certificate (for the same Go version: the file is what keeps the
// key hash stable across upgrades).
func caTemplate(pub ed25519.PublicKey) *x509.Certificate {
	sum := sha256.Sum256(pub)
	return &x509.Certificate{
		SerialNumber:          new(big.Int).SetBytes(sum[:16]),
		Subject:               pkix.Name{CommonName: "xftpd XFTP CA"},
		NotBefore:             time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2126, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		SubjectKeyId:          sum[:20],
	}
}

const caPEMType = "CERTIFICATE"

// LoadCredentials reads the CA certificate from caFile, or makes it from
// the identity and saves it there (mode 0600, created once, atomically;
// a replica that finds the file made by another uses it). A file whose key
// is not the identity's CA key is refused: the key hash would lie. If
// the file cannot be written (a read-only secret), the certificate made
// from the identity is used and saved is false.
//
// The leaf is new for each call (each process), valid from an hour ago for
// validity, and signed by the CA key.
func LoadCredentials(id *identity.Identity, caFile string, now time.Time, validity time.Duration) (c *Credentials, saved bool, err error) {
	ck := caKey(id)
	pub := ck.Public().(ed25519.PublicKey)
	der, saved, err := loadOrMakeCA(ck, caFile)
	if err != nil {
		return nil, false, err
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, false, fmt.Errorf("xftp CA %s: %w", caFile, err)
	}
	if k, ok := ca.PublicKey.(ed25519.PublicKey); !ok || !k.Equal(pub) {
		return nil, false, fmt.Errorf("xftp CA %s was made for another identity key; remove it to make a new one (this changes the XFTP address)", caFile)
	}
	leafPub, leafKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, false, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, false, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "xftpd XFTP server"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, tmpl, ca, leafPub, ck)
	if err != nil {
		return nil, false, err
	}
	leaf, err := x509.ParseCertificate(leafDER)
	if err != nil {
		return nil, false, err
	}
	c = &Credentials{CA: der, KeyHash: sha256.Sum256(der), LeafKey: leafKey,
		Leaf: tls.Certificate{Certificate: [][]byte{leafDER, der}, PrivateKey: leafKey, Leaf: leaf}}
	return c, saved, nil
}

func loadOrMakeCA(ck ed25519.PrivateKey, path string) (der []byte, saved bool, err error) {
	if b, err := os.ReadFile(path); err == nil {
		blk, _ := pem.Decode(b)
		if blk == nil || blk.Type != caPEMType {
			return nil, false, fmt.Errorf("xftp CA %s: not a PEM certificate", path)
		}
		return blk.Bytes, true, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, false, fmt.Errorf("xftp CA: %w", err)
	}
	tmpl := caTemplate(ck.Public().(ed25519.PublicKey))
	der, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, ck.Public(), ck)
	if err != nil {
		return nil, false, err
	}
	switch err := identity.CreateFile(path, pem.EncodeToMemory(&pem.Block{Type: caPEMType, Bytes: der}), 0o600); {
	case err == nil:
		return der, true, nil
	case errors.Is(err, os.ErrExist):
		return loadOrMakeCA(ck, path) // another replica made it first
	default:
		return der, false, nil
	}
}

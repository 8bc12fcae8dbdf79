// Package pki makes the TLS material of a server that has none: a local
// certificate authority and a server certificate it signs, kept as PEM files
// in the data directory and reused across starts.
package pki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// File names in the data directory. The key files have mode 0600.
const (
	CAFile        = "ca.pem"
	CAKeyFile     = "ca-key.pem"
	ServerFile    = "tls.pem"
	ServerKeyFile = "tls-key.pem"
)

const (
	caLifetime     = 10 * 365 * 24 * time.Hour
	serverLifetime = 397 * 24 * time.Hour // the maximum lifetime browsers accept
	renewBefore    = 30 * 24 * time.Hour
)

// Names returns the host names and addresses the server certificate covers
// for dnsSuffix: localhost, the loopback addresses, the suffix and every
// vault host name under it.
func Names(dnsSuffix string) (dnsNames []string, ips []net.IP) {
	return []string{"localhost", dnsSuffix, "*." + dnsSuffix}, []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
}

// LoadOrCreate returns the server certificate in dir, creating the CA and the
// certificate when they are missing, and issuing a new server certificate when
// the old one expires within 30 days or does not cover the names of dnsSuffix.
func LoadOrCreate(dir, dnsSuffix string) (tls.Certificate, error) {
	caCert, caKey, err := loadOrCreateCA(dir)
	if err != nil {
		return tls.Certificate{}, err
	}
	certPath, keyPath := filepath.Join(dir, ServerFile), filepath.Join(dir, ServerKeyFile)
	if cert, err := tls.LoadX509KeyPair(certPath, keyPath); err == nil && serverCertUsable(cert, caCert, dnsSuffix) {
		return cert, nil
	}
	return issueServerCert(caCert, caKey, certPath, keyPath, dnsSuffix)
}

func loadOrCreateCA(dir string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certPath, keyPath := filepath.Join(dir, CAFile), filepath.Join(dir, CAKeyFile)
	pair, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err == nil {
		cert, err := x509.ParseCertificate(pair.Certificate[0])
		if err != nil {
			return nil, nil, fmt.Errorf("parse %s: %w", certPath, err)
		}
		key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
		if !ok {
			return nil, nil, fmt.Errorf("%s: the CA key must be an ECDSA key", keyPath)
		}
		return cert, key, nil
	}
	if _, statErr := os.Stat(keyPath); !errors.Is(statErr, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("load CA from %s and %s: %w", certPath, keyPath, err)
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "KeyVault local CA " + now.UTC().Format("2006-01-02 15:04:05")},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	if err := writeKey(keyPath, key); err != nil {
		return nil, nil, err
	}
	if err := writePEM(certPath, "CERTIFICATE", der, 0o644); err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

func serverCertUsable(pair tls.Certificate, ca *x509.Certificate, dnsSuffix string) bool {
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil || time.Until(cert.NotAfter) < renewBefore || cert.CheckSignatureFrom(ca) != nil {
		return false
	}
	dnsNames, _ := Names(dnsSuffix)
	for _, name := range dnsNames {
		if !slices.Contains(cert.DNSNames, name) {
			return false
		}
	}
	return true
}

func issueServerCert(ca *x509.Certificate, caKey *ecdsa.PrivateKey, certPath, keyPath, dnsSuffix string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	dnsNames, ips := Names(dnsSuffix)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: dnsSuffix},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(serverLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     dnsNames,
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := writeKey(keyPath, key); err != nil {
		return tls.Certificate{}, err
	}
	if err := writePEM(certPath, "CERTIFICATE", der, 0o644); err != nil {
		return tls.Certificate{}, err
	}
	return tls.LoadX509KeyPair(certPath, keyPath)
}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return n
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	return writePEM(path, "PRIVATE KEY", der, 0o600)
}

// writePEM replaces path atomically: a crash leaves the old file or the new
// one, never a torn one.
func writePEM(path, blockType string, der []byte, mode os.FileMode) error {
	var buf bytes.Buffer
	if err := pem.Encode(&buf, &pem.Block{Type: blockType, Bytes: der}); err != nil {
		return err
	}
	return WriteFileAtomic(path, buf.Bytes(), mode)
}

// WriteFileAtomic writes data to a temporary file with the given mode, syncs
// it and renames it over path.
func WriteFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

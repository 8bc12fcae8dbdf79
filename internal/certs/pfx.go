package certs

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"strings"

	"software.sslmate.com/src/go-pkcs12"
)

// Encode renders a certificate's secret value: base64 of a PKCS #12 file
// protected by the empty password (Azure keeps no import password), or PEM
// text with the PKCS #8 private key, the leaf and its chain. Without a key
// (not exportable), only the certificates are written.
func Encode(contentType string, key crypto.PrivateKey, chain []*x509.Certificate) (string, error) {
	if contentType == ContentTypePEM {
		var buf bytes.Buffer
		if key != nil {
			der, err := x509.MarshalPKCS8PrivateKey(key)
			if err != nil {
				return "", err
			}
			if err := pem.Encode(&buf, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
				return "", err
			}
		}
		for _, c := range chain {
			if err := pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}); err != nil {
				return "", err
			}
		}
		return buf.String(), nil
	}
	var pfx []byte
	var err error
	if key == nil {
		pfx, err = pkcs12.Modern.EncodeTrustStore(chain, "")
	} else {
		pfx, err = pkcs12.Modern.Encode(key, chain[0], chain[1:], "")
	}
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(pfx), nil
}

// Imported is a certificate read from an import request.
type Imported struct {
	Key         crypto.PrivateKey
	Chain       []*x509.Certificate // leaf first
	ContentType string              // the format it came in
}

// Decode reads an imported certificate: base64 of a PKCS #12 file (with
// password, possibly empty), or PEM text holding the private key (PKCS #8,
// PKCS #1 or SEC 1) and the certificates. The leaf is the certificate whose
// public key matches the private key; the others follow as its chain.
func Decode(value, password string) (*Imported, error) {
	if strings.Contains(value, "-----BEGIN") {
		return decodePEM(value)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(value), ""))
	if err != nil {
		if raw, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(value, "=")); err != nil {
			return nil, bad("The certificate value is neither PEM text nor a base64 PKCS #12 file.")
		}
	}
	key, leaf, cas, err := pkcs12.DecodeChain(raw, password)
	if errors.Is(err, pkcs12.ErrIncorrectPassword) {
		return nil, bad("The specified PKCS #12 password is not correct.")
	}
	if err != nil {
		return nil, bad("The PKCS #12 file is invalid: %v.", err)
	}
	if key == nil {
		return nil, bad("The PKCS #12 file holds no private key.")
	}
	// DecodeChain takes the first certificate bag as the leaf, but some
	// tools write the CA certificates first: pick the one that matches the
	// key.
	chain, err := leafFirst(append([]*x509.Certificate{leaf}, cas...), key)
	if err != nil {
		return nil, err
	}
	return &Imported{Key: key, Chain: chain, ContentType: ContentTypePKCS12}, nil
}

func decodePEM(value string) (*Imported, error) {
	var key crypto.PrivateKey
	var certs []*x509.Certificate
	rest := []byte(value)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch block.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, bad("A PEM certificate is invalid: %v.", err)
			}
			certs = append(certs, c)
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
			if key != nil {
				return nil, bad("The PEM text holds more than one private key.")
			}
			var err error
			if key, err = parsePrivateKey(block); err != nil {
				return nil, err
			}
		case "ENCRYPTED PRIVATE KEY":
			return nil, bad("Encrypted PEM private keys are not supported; import a PKCS #12 file with a password instead.")
		}
	}
	if key == nil {
		return nil, bad("Private key is not specified in the specified X.509 PEM certificate content.")
	}
	if len(certs) == 0 {
		return nil, bad("The PEM text holds no certificate.")
	}
	chain, err := leafFirst(certs, key)
	if err != nil {
		return nil, err
	}
	return &Imported{Key: key, Chain: chain, ContentType: ContentTypePEM}, nil
}

func parsePrivateKey(block *pem.Block) (crypto.PrivateKey, error) {
	var key crypto.PrivateKey
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		key, err = x509.ParseECPrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, bad("The PEM private key is invalid: %v.", err)
	}
	return key, nil
}

// leafFirst moves the certificate that matches key to the front.
func leafFirst(certs []*x509.Certificate, key crypto.PrivateKey) ([]*x509.Certificate, error) {
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, bad("The private key type %T is not supported.", key)
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	for i, c := range certs {
		if e, ok := c.PublicKey.(equaler); ok && e.Equal(signer.Public()) {
			out := append([]*x509.Certificate{c}, certs[:i]...)
			return append(out, certs[i+1:]...), nil
		}
	}
	return nil, bad("None of the certificates matches the private key.")
}

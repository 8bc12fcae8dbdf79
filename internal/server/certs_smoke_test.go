package server_test

import (
	"context"
	"encoding/base64"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azcertificates"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/keyvault/keyvault/internal/kvtest"
)

func TestCertificatesSmoke(t *testing.T) {
	in := kvtest.Start(t, kvtest.Options{})
	c := in.CertificatesClient(t, "default")
	ctx := context.Background()
	op, err := c.CreateCertificate(ctx, "c1", azcertificates.CreateCertificateParameters{
		CertificatePolicy: &azcertificates.CertificatePolicy{
			IssuerParameters:          &azcertificates.IssuerParameters{Name: to.Ptr("Self")},
			X509CertificateProperties: &azcertificates.X509CertificateProperties{Subject: to.Ptr("CN=example.com")},
		},
	}, nil)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if *op.Status != "completed" {
		t.Fatalf("status %s", *op.Status)
	}
	got, err := c.GetCertificate(ctx, "c1", "", nil)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	t.Logf("id %s kid %s sid %s", *got.ID, *got.KID, *got.SID)
	sc := in.SecretsClient(t, "default")
	sec, err := sc.GetSecret(ctx, "c1", "", nil)
	if err != nil {
		t.Fatalf("secret: %v", err)
	}
	raw, err := base64.StdEncoding.DecodeString(*sec.Value)
	if err != nil {
		t.Fatalf("b64: %v", err)
	}
	if _, _, _, err := pkcs12.DecodeChain(raw, ""); err != nil {
		t.Fatalf("pfx: %v", err)
	}
	if !*sec.Managed {
		t.Fatalf("not managed")
	}
}

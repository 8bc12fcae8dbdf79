package server_test

import (
	"context"
	"crypto/sha256"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/keyvault/keyvault/internal/kvtest"
)

func TestKeysSmoke(t *testing.T) {
	in := kvtest.Start(t, kvtest.Options{})
	c := in.KeysClient(t, "default")
	ctx := context.Background()
	for _, tc := range []struct {
		kty azkeys.KeyType
		crv *azkeys.CurveName
		alg azkeys.SignatureAlgorithm
	}{
		{azkeys.KeyTypeRSA, nil, azkeys.SignatureAlgorithmPS256},
		{azkeys.KeyTypeEC, to.Ptr(azkeys.CurveNameP256K), azkeys.SignatureAlgorithmES256K},
		{azkeys.KeyTypeEC, to.Ptr(azkeys.CurveNameP521), azkeys.SignatureAlgorithmES512},
	} {
		created, err := c.CreateKey(ctx, "k-"+string(tc.alg), azkeys.CreateKeyParameters{Kty: &tc.kty, Curve: tc.crv}, nil)
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		digest := sha256.Sum256([]byte("x"))
		d := digest[:]
		if tc.alg == azkeys.SignatureAlgorithmES512 {
			d = make([]byte, 64)
		}
		sig, err := c.Sign(ctx, created.Key.KID.Name(), created.Key.KID.Version(), azkeys.SignParameters{Algorithm: &tc.alg, Value: d}, nil)
		if err != nil {
			t.Fatalf("sign: %v", err)
		}
		ver, err := c.Verify(ctx, created.Key.KID.Name(), "", azkeys.VerifyParameters{Algorithm: &tc.alg, Digest: d, Signature: sig.Result}, nil)
		if err != nil || !*ver.Value {
			t.Fatalf("verify: %v %v", err, ver.Value)
		}
	}
	oct := azkeys.KeyTypeOct
	k, err := c.CreateKey(ctx, "aes", azkeys.CreateKeyParameters{Kty: &oct, KeySize: to.Ptr(int32(256))}, nil)
	if err != nil {
		t.Fatalf("create oct: %v", err)
	}
	alg := azkeys.EncryptionAlgorithmA256GCM
	enc, err := c.Encrypt(ctx, "aes", "", azkeys.KeyOperationParameters{Algorithm: &alg, Value: []byte("hello"), AdditionalAuthenticatedData: []byte("aad")}, nil)
	if err != nil {
		t.Fatalf("encrypt: %v", err)
	}
	dec, err := c.Decrypt(ctx, "aes", k.Key.KID.Version(), azkeys.KeyOperationParameters{Algorithm: &alg, Value: enc.Result, IV: enc.IV, AuthenticationTag: enc.AuthenticationTag, AdditionalAuthenticatedData: []byte("aad")}, nil)
	if err != nil || string(dec.Result) != "hello" {
		t.Fatalf("decrypt: %v %q", err, dec.Result)
	}
	if k.Key.K != nil {
		t.Fatalf("oct key material returned")
	}
}

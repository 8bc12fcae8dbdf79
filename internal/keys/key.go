package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"math/big"
	"slices"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

// Key types (JsonWebKeyType). The -HSM types name keys that Azure keeps in
// an HSM; here they are the same software keys until an HSM backs them.
const (
	KtyRSA    = "RSA"
	KtyRSAHSM = "RSA-HSM"
	KtyEC     = "EC"
	KtyECHSM  = "EC-HSM"
	KtyOct    = "oct"
	KtyOctHSM = "oct-HSM"
)

// Curves (JsonWebKeyCurveName). P-256K is secp256k1.
const (
	CurveP256  = "P-256"
	CurveP384  = "P-384"
	CurveP521  = "P-521"
	CurveP256K = "P-256K"
)

// Key operations (JsonWebKeyOperation).
const (
	OpEncrypt   = "encrypt"
	OpDecrypt   = "decrypt"
	OpSign      = "sign"
	OpVerify    = "verify"
	OpWrapKey   = "wrapKey"
	OpUnwrapKey = "unwrapKey"
	OpImport    = "import"
	OpExport    = "export"
)

// AllOps lists every key operation name, for validating key_ops.
var AllOps = []string{OpEncrypt, OpDecrypt, OpSign, OpVerify, OpWrapKey, OpUnwrapKey, OpImport, OpExport}

// Error is invalid input to a key operation. Code is the Azure error code to
// return (BadParameter unless a more specific code applies).
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func badParameter(format string, args ...any) *Error {
	return &Error{Code: "BadParameter", Message: fmt.Sprintf(format, args...)}
}

// Key is a key with its private material.
type Key struct {
	kty string // as created or imported, e.g. "RSA-HSM"
	crv string

	rsa *rsa.PrivateKey
	ec  *ecdsa.PrivateKey     // P-256, P-384, P-521
	k1  *secp256k1.PrivateKey // P-256K
	oct []byte

	// hsm is set for a key held in a hardware security module: rsa and ec
	// then hold only the public key, and oct is nil.
	hsm *hsmKey
}

// Family returns the base key type: RSA, EC or oct.
func Family(kty string) string {
	switch kty {
	case KtyRSA, KtyRSAHSM:
		return KtyRSA
	case KtyEC, KtyECHSM:
		return KtyEC
	case KtyOct, KtyOctHSM:
		return KtyOct
	}
	return ""
}

// Kty returns the key's type as created.
func (k *Key) Kty() string { return k.kty }

// Curve returns the curve of an EC key, or "".
func (k *Key) Curve() string { return k.crv }

// Bits returns the size of an RSA modulus or a symmetric key in bits, and 0
// for EC keys.
func (k *Key) Bits() int {
	switch {
	case k.rsa != nil:
		return k.rsa.N.BitLen()
	case k.symmetric():
		return k.symmetricLen() * 8
	}
	return 0
}

// DefaultOps returns the operations a key of type kty allows when created
// without key_ops, as Azure reports them.
func DefaultOps(kty string) []string {
	switch Family(kty) {
	case KtyRSA:
		return []string{OpEncrypt, OpDecrypt, OpSign, OpVerify, OpWrapKey, OpUnwrapKey}
	case KtyEC:
		return []string{OpSign, OpVerify}
	case KtyOct:
		return []string{OpEncrypt, OpDecrypt, OpWrapKey, OpUnwrapKey}
	}
	return nil
}

// ValidateOps checks that every entry of ops is a known operation name.
func ValidateOps(ops []string) error {
	for _, op := range ops {
		if !slices.Contains(AllOps, op) {
			return badParameter("Invalid key operation '%s'. Valid operations are %v.", op, AllOps)
		}
	}
	return nil
}

// Generate makes a new key. size is the RSA modulus or AES key length in bits
// (0 for the default: RSA 2048, oct 256), exponent the RSA public exponent (0
// for 65537), crv the curve of an EC key (empty for P-256).
func Generate(kty string, size, exponent int, crv string) (*Key, error) {
	switch Family(kty) {
	case KtyRSA:
		if size == 0 {
			size = 2048
		}
		if size != 2048 && size != 3072 && size != 4096 {
			return nil, badParameter("RSA key size %d is not supported. Use 2048, 3072 or 4096.", size)
		}
		// NOTE: crypto/rsa generates keys only with e = 65537.
		if exponent != 0 && exponent != 65537 {
			return nil, badParameter("RSA public exponent %d is not supported. Use 65537.", exponent)
		}
		if crv != "" {
			return nil, badParameter("An RSA key has no curve; remove crv.")
		}
		priv, err := rsa.GenerateKey(rand.Reader, size)
		if err != nil {
			return nil, err
		}
		return &Key{kty: kty, rsa: priv}, nil
	case KtyEC:
		if size != 0 || exponent != 0 {
			return nil, badParameter("An EC key takes a curve (crv), not key_size or public_exponent.")
		}
		if crv == "" {
			crv = CurveP256
		}
		return generateEC(kty, crv)
	case KtyOct:
		if size == 0 {
			size = 256
		}
		if size != 128 && size != 192 && size != 256 {
			return nil, badParameter("Symmetric key size %d is not supported. Use 128, 192 or 256.", size)
		}
		if crv != "" || exponent != 0 {
			return nil, badParameter("A symmetric key takes only key_size.")
		}
		raw := make([]byte, size/8)
		if _, err := rand.Read(raw); err != nil {
			return nil, err
		}
		return &Key{kty: kty, oct: raw}, nil
	}
	return nil, badParameter("Key type '%s' is not supported. Use RSA, RSA-HSM, EC, EC-HSM, oct or oct-HSM.", kty)
}

func curveNotSupported(crv string) *Error {
	return &Error{Code: "KeyCurveNotSupported", Message: fmt.Sprintf("The curve '%s' is not supported. Use P-256, P-384, P-521 or P-256K.", crv)}
}

func ellipticCurve(crv string) elliptic.Curve {
	switch crv {
	case CurveP256:
		return elliptic.P256()
	case CurveP384:
		return elliptic.P384()
	case CurveP521:
		return elliptic.P521()
	}
	return nil
}

func generateEC(kty, crv string) (*Key, error) {
	if crv == CurveP256K || crv == "SECP256K1" {
		priv, err := secp256k1.GeneratePrivateKey()
		if err != nil {
			return nil, err
		}
		return &Key{kty: kty, crv: CurveP256K, k1: priv}, nil
	}
	curve := ellipticCurve(crv)
	if curve == nil {
		return nil, curveNotSupported(crv)
	}
	priv, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		return nil, err
	}
	return &Key{kty: kty, crv: crv, ec: priv}, nil
}

// curveBytes is the length of one coordinate or scalar of crv.
func curveBytes(crv string) int {
	switch crv {
	case CurveP256, CurveP256K:
		return 32
	case CurveP384:
		return 48
	case CurveP521:
		return 66
	}
	return 0
}

// PublicJWK returns the key's public part as a JWK. Symmetric keys have no
// public part: only kty is set.
func (k *Key) PublicJWK() *JSONWebKey {
	j := &JSONWebKey{Kty: k.kty}
	switch {
	case k.rsa != nil:
		j.N = k.rsa.N.Bytes()
		j.E = big.NewInt(int64(k.rsa.E)).Bytes()
	case k.ec != nil:
		n := curveBytes(k.crv)
		j.Crv = k.crv
		j.X = k.ec.X.FillBytes(make([]byte, n))
		j.Y = k.ec.Y.FillBytes(make([]byte, n))
	case k.k1 != nil:
		pub := k.k1.PubKey()
		j.Crv = k.crv
		x, y := pub.X(), pub.Y()
		j.X = x.FillBytes(make([]byte, 32))
		j.Y = y.FillBytes(make([]byte, 32))
	}
	return j
}

// PrivateJWK returns the whole key as a JWK, for sealed storage only.
func (k *Key) PrivateJWK() *JSONWebKey {
	j := k.PublicJWK()
	if k.hsm != nil {
		return j // the private material is in the HSM
	}
	switch {
	case k.rsa != nil:
		j.D = k.rsa.D.Bytes()
		j.P = k.rsa.Primes[0].Bytes()
		j.Q = k.rsa.Primes[1].Bytes()
		j.DP = k.rsa.Precomputed.Dp.Bytes()
		j.DQ = k.rsa.Precomputed.Dq.Bytes()
		j.QI = k.rsa.Precomputed.Qinv.Bytes()
	case k.ec != nil:
		j.D = k.ec.D.FillBytes(make([]byte, curveBytes(k.crv)))
	case k.k1 != nil:
		d := k.k1.Key.Bytes()
		j.D = d[:]
	case k.oct != nil:
		j.K = k.oct
	}
	return j
}

// FromJWK builds a key from a JWK that holds the private material, checking
// that it is complete and consistent. kty may name an -HSM type; a key_hsm
// (BYOK) blob is not supported.
func FromJWK(j *JSONWebKey) (*Key, error) {
	return fromJWK(j, true)
}

// FromStoredJWK builds a key from a JWK made by PrivateJWK and read back from
// authenticated storage. It skips the consistency checks of FromJWK, which
// for RSA cost more than a signature, and uses the stored CRT parameters.
func FromStoredJWK(j *JSONWebKey) (*Key, error) {
	return fromJWK(j, false)
}

func fromJWK(j *JSONWebKey, validate bool) (*Key, error) {
	if len(j.T) > 0 {
		return nil, badParameter("Importing a key_hsm (bring-your-own-key) blob is not supported.")
	}
	switch Family(j.Kty) {
	case KtyRSA:
		return rsaFromJWK(j, validate)
	case KtyEC:
		return ecFromJWK(j)
	case KtyOct:
		if n := len(j.K); n != 16 && n != 24 && n != 32 {
			return nil, badParameter("The symmetric key must have 'k' of 128, 192 or 256 bits, got %d bits.", n*8)
		}
		return &Key{kty: j.Kty, oct: append([]byte(nil), j.K...)}, nil
	}
	return nil, badParameter("The key property is not a valid JsonWebKey: kty '%s' is not supported.", j.Kty)
}

func rsaFromJWK(j *JSONWebKey, validate bool) (*Key, error) {
	if len(j.N) == 0 || len(j.E) == 0 || len(j.D) == 0 || len(j.P) == 0 || len(j.Q) == 0 {
		return nil, badParameter("The RSA key is not valid: an import needs n, e, d, p and q (the private key).")
	}
	e := new(big.Int).SetBytes(j.E)
	if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 {
		return nil, badParameter("The RSA key is not valid: the public exponent is out of range.")
	}
	priv := &rsa.PrivateKey{
		PublicKey: rsa.PublicKey{N: new(big.Int).SetBytes(j.N), E: int(e.Int64())},
		D:         new(big.Int).SetBytes(j.D),
		Primes:    []*big.Int{new(big.Int).SetBytes(j.P), new(big.Int).SetBytes(j.Q)},
	}
	if bits := priv.N.BitLen(); bits != 2048 && bits != 3072 && bits != 4096 {
		return nil, badParameter("The RSA key is not valid: a %d-bit modulus is not supported; use 2048, 3072 or 4096 bits.", bits)
	}
	if validate {
		if err := priv.Validate(); err != nil {
			return nil, badParameter("The RSA key is not valid: %v.", err)
		}
	} else if len(j.DP) > 0 && len(j.DQ) > 0 && len(j.QI) > 0 {
		priv.Precomputed = rsa.PrecomputedValues{
			Dp: new(big.Int).SetBytes(j.DP), Dq: new(big.Int).SetBytes(j.DQ), Qinv: new(big.Int).SetBytes(j.QI),
		}
	}
	priv.Precompute()
	return &Key{kty: j.Kty, rsa: priv}, nil
}

func ecFromJWK(j *JSONWebKey) (*Key, error) {
	crv := j.Crv
	if crv == "SECP256K1" {
		crv = CurveP256K // the older name of P-256K, as Generate accepts it
	}
	n := curveBytes(crv)
	if n == 0 {
		return nil, curveNotSupported(j.Crv)
	}
	if len(j.D) == 0 || len(j.D) > n {
		return nil, badParameter("The EC key is not valid: an import needs the private key d of %d bytes.", n)
	}
	d := make([]byte, n)
	copy(d[n-len(j.D):], j.D)
	var k *Key
	if crv == CurveP256K {
		var scalar secp256k1.ModNScalar
		if overflow := scalar.SetByteSlice(d); overflow || scalar.IsZero() {
			return nil, badParameter("The EC key is not valid: d is out of range.")
		}
		k = &Key{kty: j.Kty, crv: CurveP256K, k1: secp256k1.NewPrivateKey(&scalar)}
	} else {
		priv, err := ecdsa.ParseRawPrivateKey(ellipticCurve(j.Crv), d)
		if err != nil {
			return nil, badParameter("The EC key is not valid: %v.", err)
		}
		k = &Key{kty: j.Kty, crv: j.Crv, ec: priv}
	}
	// The public point, when given, must belong to d.
	if len(j.X) > 0 || len(j.Y) > 0 {
		pub := k.PublicJWK()
		if !bigEqual(pub.X, j.X) || !bigEqual(pub.Y, j.Y) {
			return nil, badParameter("The EC key is not valid: x and y do not match d.")
		}
	}
	return k, nil
}

func bigEqual(a, b []byte) bool {
	return new(big.Int).SetBytes(a).Cmp(new(big.Int).SetBytes(b)) == 0
}

// Signer returns the key as a crypto.Signer for X.509 use, or nil for keys
// the standard library cannot sign certificates with (P-256K and oct keys).
func (k *Key) Signer() crypto.Signer {
	switch {
	case k.hsm != nil:
		return k.hsm.signer
	case k.rsa != nil:
		return k.rsa
	case k.ec != nil:
		return k.ec
	}
	return nil
}

// FromPrivateKey wraps an RSA or ECDSA (P-256, P-384, P-521) private key,
// such as one read from a PKCS #12 or PEM file, as a key of type kty (RSA,
// RSA-HSM, EC or EC-HSM).
func FromPrivateKey(kty string, priv crypto.PrivateKey) (*Key, error) {
	switch p := priv.(type) {
	case *rsa.PrivateKey:
		if Family(kty) != KtyRSA {
			return nil, badParameter("The private key is an RSA key, but the key type is %s.", kty)
		}
		if bits := p.N.BitLen(); bits != 2048 && bits != 3072 && bits != 4096 {
			return nil, badParameter("RSA keys of %d bits are not supported; use 2048, 3072 or 4096 bits.", bits)
		}
		p.Precompute()
		return &Key{kty: kty, rsa: p}, nil
	case *ecdsa.PrivateKey:
		if Family(kty) != KtyEC {
			return nil, badParameter("The private key is an EC key, but the key type is %s.", kty)
		}
		var crv string
		switch p.Curve {
		case elliptic.P256():
			crv = CurveP256
		case elliptic.P384():
			crv = CurveP384
		case elliptic.P521():
			crv = CurveP521
		default:
			return nil, curveNotSupported(p.Curve.Params().Name)
		}
		return &Key{kty: kty, crv: crv, ec: p}, nil
	}
	return nil, badParameter("Only RSA and EC private keys are supported, got %T.", priv)
}

// String keeps key material out of logs and formatted errors.
func (k *Key) String() string {
	return fmt.Sprintf("Key{Kty: %s, Curve: %s, Bits: %d, private material REDACTED}", k.kty, k.crv, k.Bits())
}

// GoString is String, so %#v does not print the private key either.
func (k *Key) GoString() string { return k.String() }

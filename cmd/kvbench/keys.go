package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	cryptorand "crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// operationInputSize is the size of the digest that sign phases send
	// (a SHA-256 digest) and of the plaintext that encrypt-aes sends.
	operationInputSize = 32
	// verifyEvery makes a sign phase verify one signature in this many
	// locally with the key's public JWK. Verifying every one would take
	// CPU from the server, which runs on the same cores.
	verifyEvery = 16
	// setupTimeout bounds creating a key and checking one operation before
	// a key phase.
	setupTimeout = time.Minute
)

// keyPhase is a phase that runs one operation on one key version.
type keyPhase struct {
	createBody string // POST /keys/{name}/create body
	operation  string // URL path segment: sign or encrypt
	alg        string
	// valueSize is the size of "value" in each response: the signature, or
	// the ciphertext of operationInputSize bytes.
	valueSize int
	// direct names what the direct run of the phase calls.
	direct string
}

var keyPhases = map[string]keyPhase{
	"sign-rsa": {
		createBody: `{"kty":"RSA","key_size":2048}`, operation: "sign", alg: "RS256", valueSize: 256,
		direct: "crypto/rsa SignPKCS1v15 (RSA-2048, SHA-256 digest)",
	},
	"sign-ec": {
		createBody: `{"kty":"EC","crv":"P-256"}`, operation: "sign", alg: "ES256", valueSize: 64,
		direct: "crypto/ecdsa Sign (P-256)",
	},
	"encrypt-aes": {
		createBody: `{"kty":"oct","key_size":256}`, operation: "encrypt", alg: "A256GCM", valueSize: operationInputSize,
		direct: "crypto/cipher GCM Seal (AES-256, random 12-byte nonce)",
	},
}

func isKeyPhase(phase string) bool {
	_, ok := keyPhases[phase]
	return ok
}

// keyTarget is the key version that a key phase drives.
type keyTarget struct {
	phase    keyPhase
	kid      string // https://default.vault.localhost:PORT/keys/{name}/{version}
	opURL    string // {kid}/{operation}?api-version=...
	verify   func(digest, sig []byte) error
	count    atomic.Int64 // operations sent, to pick the signatures to verify
	verified atomic.Int64 // signatures verified locally
}

// jsonWebKey is the public part of a JWK in a key bundle.
type jsonWebKey struct {
	Kid string `json:"kid"`
	Kty string `json:"kty"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// keyOperationResponse is KeyOperationResult with its binary fields still
// in base64url.
type keyOperationResponse struct {
	Kid   string `json:"kid"`
	Value string `json:"value"`
	IV    string `json:"iv"`
	Tag   string `json:"tag"`
}

// runKeyPhase creates the phase's key and checks one operation with it.
// Then, for each of -rounds rounds, it runs the measured load on the key's
// versioned operation URL and, with -direct, the same operation on the Go
// crypto library. Rounds alternate the two, so that a machine whose speed
// drifts (other virtual machines on the same host) affects both sides of
// each round alike.
func (b *bench) runKeyPhase(ctx context.Context, name string) ([]*phaseResult, error) {
	setupCtx, cancel := context.WithTimeout(ctx, setupTimeout)
	target, err := b.createKeyTarget(setupCtx, name)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("phase %s: %w", name, err)
	}
	var results []*phaseResult
	for round := 1; round <= b.opts.rounds; round++ {
		perfPrefix := b.opts.perfPrefix
		if perfPrefix != "" && b.opts.rounds > 1 {
			perfPrefix += fmt.Sprintf("-round%d", round)
		}
		res, err := b.measure(ctx, name, target.operate(b), b.opts.warmup, b.opts.duration, b.opts.requests, perfPrefix)
		if err != nil {
			return nil, err
		}
		res.Kid = target.kid
		res.SignaturesVerified = target.verified.Load()
		if b.opts.rounds > 1 {
			res.Round, res.Rounds = round, b.opts.rounds
		}
		results = append(results, res)
		if !b.opts.direct {
			continue
		}
		var direct *directResult
		if len(b.opts.serverCPUs) > 0 {
			direct, err = b.runDirectPinned(ctx, name)
		} else {
			direct, err = runDirect(ctx, name, b.srv.cmd.Process.Pid, b.opts.warmup, b.opts.duration)
		}
		if err != nil {
			return nil, fmt.Errorf("phase %s, direct run: %w", name, err)
		}
		if direct.Throughput > 0 {
			direct.APIToDirect = res.Throughput / direct.Throughput
		}
		if res.ServerCPUPerRequest > 0 {
			direct.CPUToServer = direct.CPUPerOperation / res.ServerCPUPerRequest
		}
		res.Direct = direct
	}
	return results, nil
}

// writeRatioSummary prints the API/direct ratios of a key phase's rounds
// and their medians.
func writeRatioSummary(w io.Writer, results []*phaseResult) {
	var throughput, cpu []float64
	for _, r := range results {
		if r.Direct != nil {
			throughput = append(throughput, r.Direct.APIToDirect)
			cpu = append(cpu, r.Direct.CPUToServer)
		}
	}
	if len(throughput) < 2 {
		return
	}
	list := func(v []float64) string {
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = fmt.Sprintf("%.3g", x)
		}
		return strings.Join(parts, " ")
	}
	fmt.Fprintf(w, "%s: API/direct over %d rounds: throughput %s (median %.3g); CPU %s (median %.3g)\n",
		results[0].Phase, len(throughput), list(throughput), median(throughput), list(cpu), median(cpu))
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// createKeyTarget creates the key kvbench-PHASE (a new version if it
// exists) and checks one operation on the new version: a sign phase
// verifies the signature, and encrypt-aes decrypts the ciphertext.
func (b *bench) createKeyTarget(ctx context.Context, name string) (*keyTarget, error) {
	p := keyPhases[name]
	c := &http.Client{Transport: b.srv.newTransport(nil, b.opts.http2), Timeout: requestTimeout}
	defer c.CloseIdleConnections()

	keyName := "kvbench-" + name
	body, err := b.post(ctx, c, "/keys/"+keyName+"/create", p.createBody)
	if err != nil {
		return nil, fmt.Errorf("create key %s: %w", keyName, err)
	}
	var bundle struct {
		Key jsonWebKey `json:"key"`
	}
	if err := json.Unmarshal(body, &bundle); err != nil {
		return nil, fmt.Errorf("create key %s: invalid key bundle: %w: %.300s", keyName, err, body)
	}
	prefix := b.srv.vaultURL + "/keys/" + keyName + "/"
	version, ok := strings.CutPrefix(bundle.Key.Kid, prefix)
	if !ok || version == "" || strings.Contains(version, "/") {
		return nil, fmt.Errorf("create key %s: kid %q is not %s{version}", keyName, bundle.Key.Kid, prefix)
	}

	t := &keyTarget{phase: p, kid: bundle.Key.Kid}
	t.opURL = t.kid + "/" + p.operation + "?api-version=" + apiVersion
	if p.operation == "sign" {
		if t.verify, err = newVerifier(p.alg, &bundle.Key); err != nil {
			return nil, fmt.Errorf("create key %s: %w", keyName, err)
		}
	}

	// One checked operation before the load: a sign phase verifies every
	// signature it gets here, and encrypt-aes decrypts what it encrypted.
	input := randomInput()
	out, err := t.send(ctx, b, c, input, true)
	if err != nil {
		return nil, fmt.Errorf("first %s with %s: %w", p.operation, t.kid, err)
	}
	if p.operation == "encrypt" {
		if err := b.checkDecrypt(ctx, c, t, input, out); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// checkDecrypt decrypts the result of an encryption of plaintext and checks
// that the plaintext comes back.
func (b *bench) checkDecrypt(ctx context.Context, c *http.Client, t *keyTarget, plaintext []byte, enc *keyOperationResponse) error {
	reqBody := `{"alg":"` + t.phase.alg + `","value":"` + enc.Value + `","iv":"` + enc.IV + `","tag":"` + enc.Tag + `"}`
	body, err := b.post(ctx, c, strings.TrimPrefix(t.kid, b.srv.vaultURL)+"/decrypt", reqBody)
	if err != nil {
		return fmt.Errorf("decrypt with %s: %w", t.kid, err)
	}
	var dec keyOperationResponse
	if err := json.Unmarshal(body, &dec); err != nil {
		return fmt.Errorf("decrypt with %s: invalid response: %w: %.300s", t.kid, err, body)
	}
	got, err := base64.RawURLEncoding.DecodeString(dec.Value)
	if err != nil || !bytes.Equal(got, plaintext) {
		return fmt.Errorf("decrypt with %s: value %q, want the plaintext %q", t.kid, dec.Value, base64.RawURLEncoding.EncodeToString(plaintext))
	}
	return nil
}

// post sends an authorized POST of a JSON body to path (under the vault URL)
// and returns the response body of a 200 response.
func (b *bench) post(ctx context.Context, c *http.Client, path, body string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.srv.vaultURL+path+"?api-version="+apiVersion, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return b.do(c, req)
}

// operate returns the load's operation: one request with a random 32-byte
// input, whose response is checked.
func (t *keyTarget) operate(b *bench) operation {
	return func(ctx context.Context, c *http.Client) (string, error) {
		verify := t.verify != nil && t.count.Add(1)%verifyEvery == 1
		_, err := t.send(ctx, b, c, randomInput(), verify)
		return "", err
	}
}

// send runs the operation on input and checks the response: the kid of the
// key version, a value of the expected size, for encryption a 12-byte iv
// and a 16-byte tag, and, when verify is set, the signature.
func (t *keyTarget) send(ctx context.Context, b *bench, c *http.Client, input []byte, verify bool) (*keyOperationResponse, error) {
	reqBody := `{"alg":"` + t.phase.alg + `","value":"` + base64.RawURLEncoding.EncodeToString(input) + `"}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.opURL, strings.NewReader(reqBody))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	body, err := b.do(c, req)
	if err != nil {
		return nil, err
	}

	var out keyOperationResponse
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("POST %s: invalid response: %w: %.300s", req.URL.Path, err, body)
	}
	if out.Kid != t.kid {
		return nil, fmt.Errorf("POST %s: kid %q, want %q", req.URL.Path, out.Kid, t.kid)
	}
	value, err := decodeSized(out.Value, t.phase.valueSize)
	if err != nil {
		return nil, fmt.Errorf("POST %s: value: %w", req.URL.Path, err)
	}
	if t.phase.operation == "encrypt" {
		if _, err := decodeSized(out.IV, 12); err != nil {
			return nil, fmt.Errorf("POST %s: iv: %w", req.URL.Path, err)
		}
		if _, err := decodeSized(out.Tag, 16); err != nil {
			return nil, fmt.Errorf("POST %s: tag: %w", req.URL.Path, err)
		}
	}
	if verify && t.verify != nil {
		if err := t.verify(input, value); err != nil {
			return nil, fmt.Errorf("POST %s: the signature of digest %x does not verify with the key's public JWK: %w", req.URL.Path, input, err)
		}
		t.verified.Add(1)
	}
	return &out, nil
}

// decodeSized decodes base64url s and checks that it is size bytes long.
func decodeSized(s string, size int) ([]byte, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("invalid base64url %.100q: %w", s, err)
	}
	if len(raw) != size {
		return nil, fmt.Errorf("%d bytes, want %d", len(raw), size)
	}
	return raw, nil
}

// randomInput returns a random SHA-256-sized digest or plaintext.
func randomInput() []byte {
	b := make([]byte, operationInputSize)
	_, _ = cryptorand.Read(b) // crypto/rand.Read never returns an error since Go 1.24
	return b
}

// newVerifier returns a function that checks an RS256 or ES256 signature
// against the public JWK of the key, parsed here with the standard library
// alone.
func newVerifier(alg string, jwk *jsonWebKey) (func(digest, sig []byte) error, error) {
	switch alg {
	case "RS256":
		n, err1 := base64.RawURLEncoding.DecodeString(jwk.N)
		e, err2 := base64.RawURLEncoding.DecodeString(jwk.E)
		if jwk.Kty != "RSA" || err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 {
			return nil, fmt.Errorf("invalid RSA public JWK: kty %q, n %.40q..., e %q", jwk.Kty, jwk.N, jwk.E)
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if pub.N.BitLen() != 2048 {
			return nil, fmt.Errorf("RSA modulus has %d bits, want 2048", pub.N.BitLen())
		}
		return func(digest, sig []byte) error {
			return rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest, sig)
		}, nil
	case "ES256":
		x, err1 := base64.RawURLEncoding.DecodeString(jwk.X)
		y, err2 := base64.RawURLEncoding.DecodeString(jwk.Y)
		if jwk.Kty != "EC" || jwk.Crv != "P-256" || err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 {
			return nil, fmt.Errorf("invalid P-256 public JWK: kty %q, crv %q, x %q, y %q", jwk.Kty, jwk.Crv, jwk.X, jwk.Y)
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil, fmt.Errorf("invalid P-256 public JWK: %w", err)
		}
		return func(digest, sig []byte) error {
			r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
			if !ecdsa.Verify(pub, digest, r, s) {
				return errors.New("ecdsa.Verify returned false")
			}
			return nil
		}, nil
	}
	return nil, fmt.Errorf("no verifier for %s", alg)
}

// directResult is the throughput of a key phase's operation run directly on
// the Go crypto library, in the kvbench process, while the server is idle.
type directResult struct {
	Operation  string  `json:"operation"`
	Goroutines int     `json:"goroutines"`
	Seconds    float64 `json:"seconds"`
	Operations int64   `json:"operations"`
	Throughput float64 `json:"operationsPerSecond"`
	// APIToDirect is the phase's API throughput divided by Throughput.
	APIToDirect float64 `json:"apiToDirect"`
	// CPUToServer is CPUPerOperation divided by the phase's server CPU per
	// request: the share of the server's CPU that the operation itself
	// would take if the server did nothing else.
	CPUToServer float64 `json:"directCpuToServerCpu"`

	CPUPerOperation float64 `json:"kvbenchCpuUsPerOperation"`
	BenchCores      float64 `json:"kvbenchCores"`
	ServerCores     float64 `json:"serverCores"` // should be near 0: the server is idle
	OtherCores      float64 `json:"otherCores"`
	StealCores      float64 `json:"stealCores"`
}

// directOperation is one goroutine's operation in a direct run.
type directOperation func() error

// newDirectOperations makes a key like the phase's and returns a function
// that gives each goroutine its own operation on that key. The inputs are
// fixed per goroutine, because the cost of these operations does not depend
// on the input's value.
func newDirectOperations(phase string) (func() directOperation, error) {
	input := randomInput()
	switch phase {
	case "sign-rsa":
		key, err := rsa.GenerateKey(cryptorand.Reader, 2048)
		if err != nil {
			return nil, err
		}
		return func() directOperation {
			return func() error {
				_, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, input)
				return err
			}
		}, nil
	case "sign-ec":
		key, err := ecdsa.GenerateKey(elliptic.P256(), cryptorand.Reader)
		if err != nil {
			return nil, err
		}
		return func() directOperation {
			return func() error {
				// The server writes r || s into 64 bytes the same way.
				r, s, err := ecdsa.Sign(cryptorand.Reader, key, input)
				if err != nil {
					return err
				}
				sig := make([]byte, 64)
				r.FillBytes(sig[:32])
				s.FillBytes(sig[32:])
				return nil
			}
		}, nil
	case "encrypt-aes":
		key := make([]byte, 32)
		_, _ = cryptorand.Read(key)
		return func() directOperation {
			// The cipher is set up once per goroutine, and the nonce is new
			// for every operation, as GCM requires.
			block, err := aes.NewCipher(key)
			if err != nil {
				return func() error { return err }
			}
			aead, err := cipher.NewGCM(block)
			if err != nil {
				return func() error { return err }
			}
			nonce := make([]byte, aead.NonceSize())
			return func() error {
				_, _ = cryptorand.Read(nonce)
				_ = aead.Seal(nil, nonce, input, nil)
				return nil
			}
		}, nil
	}
	return nil, fmt.Errorf("no direct operation for phase %q", phase)
}

// runDirect runs the phase's operation on the Go crypto library in
// GOMAXPROCS goroutines: -warmup unmeasured, then -duration measured. The
// window ends when every goroutine has finished its last operation, as in
// measure.
func runDirect(ctx context.Context, phase string, serverPID int, warmup, duration time.Duration) (*directResult, error) {
	newOp, err := newDirectOperations(phase)
	if err != nil {
		return nil, err
	}
	goroutines := runtime.GOMAXPROCS(0)
	var state atomic.Int32
	counts := make([]int64, goroutines)
	errs := make([]error, goroutines)
	var wg sync.WaitGroup
	for i := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			op := newOp()
			for {
				s := state.Load()
				if s == stateStop {
					return
				}
				if err := op(); err != nil {
					errs[i] = err
					return
				}
				if s == stateMeasure {
					counts[i]++
				}
			}
		}()
	}
	allDone := make(chan struct{})
	go func() {
		wg.Wait()
		close(allDone)
	}()
	stop := func() {
		state.Store(stateStop)
		<-allDone
	}

	select {
	case <-time.After(warmup):
	case <-ctx.Done():
	case <-allDone:
	}
	before, err := sampleCPU(serverPID)
	if err != nil {
		stop()
		return nil, err
	}
	state.Store(stateMeasure)
	timer := time.NewTimer(duration)
	select {
	case <-timer.C:
	case <-ctx.Done():
	case <-allDone:
	}
	timer.Stop()
	stop()
	after, err := sampleCPU(serverPID)
	if err != nil {
		return nil, err
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("interrupted: %w", ctx.Err())
	}

	r := &directResult{Operation: keyPhases[phase].direct, Goroutines: goroutines}
	for _, n := range counts {
		r.Operations += n
	}
	window := after.at.Sub(before.at)
	r.Seconds = window.Seconds()
	if r.Seconds > 0 {
		r.Throughput = float64(r.Operations) / r.Seconds
	}
	server := after.server - before.server
	self := after.self - before.self
	r.ServerCores = cores(server, window)
	r.BenchCores = cores(self, window)
	r.OtherCores = max(0, cores(after.busy-before.busy-server-self, window))
	r.StealCores = cores(after.steal-before.steal, window)
	if r.Operations > 0 {
		r.CPUPerOperation = float64(self.Nanoseconds()) / 1e3 / float64(r.Operations)
	}
	return r, nil
}

// writeText prints the direct run below its phase.
func (d *directResult) writeText(w io.Writer) {
	fmt.Fprintf(w, "  direct      %s in %d goroutines, %.2f s, server idle\n", d.Operation, d.Goroutines, d.Seconds)
	fmt.Fprintf(w, "              %.0f ops/s, %.4g us kvbench CPU/op, %.2f cores; server %.2f cores, other %.2f cores, steal %.2f cores\n",
		d.Throughput, d.CPUPerOperation, d.BenchCores, d.ServerCores, d.OtherCores, d.StealCores)
	fmt.Fprintf(w, "  API/direct  %.3g of the throughput (API req/s / direct ops/s), %.3g of the CPU (direct CPU/op / server CPU/request)\n",
		d.APIToDirect, d.CPUToServer)
}

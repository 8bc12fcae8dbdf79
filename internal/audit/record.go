// Package audit keeps KeyVault's tamper-evident audit trail: one record per
// request, in the layout of Azure Key Vault's AuditEvent diagnostic logs,
// written as JSON lines. Each record carries the hash of the one before it,
// and signed checkpoints let a verifier prove that a file was not changed,
// cut short or reordered.
package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// Categories of records.
const (
	CategoryAuditEvent = "AuditEvent"
	CategoryCheckpoint = "AuditCheckpoint"
)

// Record is an audit record. The fields up to Properties follow Azure Key
// Vault's AuditEvent records, so tools that read those read these; Seq,
// PrevHash, Hash and Signature form the chain.
type Record struct {
	Time              string     `json:"time"`
	ResourceID        string     `json:"resourceId,omitempty"`
	OperationName     string     `json:"operationName"`
	OperationVersion  string     `json:"operationVersion,omitempty"`
	Category          string     `json:"category"`
	ResultType        string     `json:"resultType,omitempty"`
	ResultSignature   string     `json:"resultSignature,omitempty"`
	ResultDescription string     `json:"resultDescription,omitempty"`
	DurationMs        string     `json:"durationMs,omitempty"`
	CallerIPAddress   string     `json:"callerIpAddress,omitempty"`
	CorrelationID     string     `json:"correlationId,omitempty"`
	Identity          *Identity  `json:"identity,omitempty"`
	Properties        Properties `json:"properties"`

	Seq       uint64 `json:"seq"`
	PrevHash  string `json:"prevHash"`
	Hash      string `json:"hash"`
	Signature string `json:"signature,omitempty"` // checkpoints only
}

// Identity holds the claims of the caller's token that Azure records.
type Identity struct {
	Claim map[string]string `json:"claim"`
}

// Properties are a record's operation details. They never hold a secret
// value, key material, token or client secret.
type Properties struct {
	ID                  string `json:"id,omitempty"` // the object's URL, never its value
	ClientInfo          string `json:"clientInfo,omitempty"`
	HTTPStatusCode      int    `json:"httpStatusCode,omitempty"`
	RequestURI          string `json:"requestUri,omitempty"`
	IsAccessPolicyMatch *bool  `json:"isAccessPolicyMatch,omitempty"`
	IsRbacAuthorized    *bool  `json:"isRbacAuthorized,omitempty"`
	TLSVersion          string `json:"tlsVersion,omitempty"`
	Algorithm           string `json:"algorithm,omitempty"`
	Vault               string `json:"vault,omitempty"`
	Details             string `json:"details,omitempty"` // events with no request: what happened
}

// makeValidUTF8 replaces invalid UTF-8 in every string of r with U+FFFD.
// Request headers, hosts and paths may carry any bytes, and encoding/json
// writes such bytes as \ufffd, which decodes to a different string. Verify
// checks each line against the encoding of what it decodes to, so the line
// would fail it.
func (r *Record) makeValidUTF8() {
	for _, f := range []*string{&r.Time, &r.ResourceID, &r.OperationName, &r.OperationVersion, &r.Category,
		&r.ResultType, &r.ResultSignature, &r.ResultDescription, &r.DurationMs, &r.CallerIPAddress,
		&r.CorrelationID, &r.Properties.ID, &r.Properties.ClientInfo, &r.Properties.RequestURI,
		&r.Properties.TLSVersion, &r.Properties.Algorithm, &r.Properties.Vault, &r.Properties.Details} {
		*f = validUTF8(*f)
	}
	if r.Identity == nil {
		return
	}
	for k, v := range r.Identity.Claim {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			// The caller may share Identity with other records, so a copy is changed.
			claims := make(map[string]string, len(r.Identity.Claim))
			for k, v := range r.Identity.Claim {
				claims[validUTF8(k)] = validUTF8(v)
			}
			r.Identity = &Identity{Claim: claims}
			return
		}
	}
}

func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// chainHash computes a record's hash: SHA-256 over the previous hash and the
// record's JSON encoding with Hash and Signature empty.
func chainHash(r *Record) (string, error) {
	c := *r
	c.Hash, c.Signature = "", ""
	raw, err := json.Marshal(&c)
	if err != nil {
		return "", err
	}
	return hashLine(r.PrevHash, raw), nil
}

// hashLine returns SHA-256 over the previous hash, a NUL byte and a record's
// JSON encoding with Hash and Signature empty, in hex.
func hashLine(prev string, raw []byte) string {
	h := sha256.New()
	h.Write([]byte(prev))
	h.Write([]byte{0})
	h.Write(raw)
	return hex.EncodeToString(h.Sum(nil))
}

// checkpointMessage returns the bytes a checkpoint's Ed25519 signature covers.
func checkpointMessage(seq uint64, hash string) []byte {
	raw, _ := json.Marshal(struct {
		Domain string `json:"domain"`
		Seq    uint64 `json:"seq"`
		Hash   string `json:"hash"`
	}{"keyvault-audit-checkpoint-v1", seq, hash})
	return raw
}

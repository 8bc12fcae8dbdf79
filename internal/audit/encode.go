package audit

import (
	"slices"
	"strconv"

	"github.com/keyvault/keyvault/internal/jsonenc"
)

// Records are written on every request, so they are encoded by hand instead
// of by reflection. The bytes must be exactly what json.Marshal makes of the
// record, because Verify checks each line against that encoding. The
// differential test and fuzz target in encode_test.go compare the two.
//
// A record is encoded in two parts. The body (every field before the chain
// fields) is built before the logger's lock is taken, and the tail (seq,
// prevHash and hash) is added under it.

// appendBody appends the record's JSON up to and including "properties",
// without the closing brace. r.Signature must be empty.
func appendBody(b []byte, r *Record) []byte {
	b = append(b, `{"time":`...)
	b = appendString(b, r.Time)
	b = appendField(b, "resourceId", r.ResourceID)
	b = append(b, `,"operationName":`...)
	b = appendString(b, r.OperationName)
	b = appendField(b, "operationVersion", r.OperationVersion)
	b = append(b, `,"category":`...)
	b = appendString(b, r.Category)
	b = appendField(b, "resultType", r.ResultType)
	b = appendField(b, "resultSignature", r.ResultSignature)
	b = appendField(b, "resultDescription", r.ResultDescription)
	b = appendField(b, "durationMs", r.DurationMs)
	b = appendField(b, "callerIpAddress", r.CallerIPAddress)
	b = appendField(b, "correlationId", r.CorrelationID)

	if r.Identity != nil {
		b = append(b, `,"identity":{"claim":`...)
		if r.Identity.Claim == nil {
			b = append(b, "null"...)
		} else {
			names := make([]string, 0, len(r.Identity.Claim))
			for k := range r.Identity.Claim {
				names = append(names, k)
			}
			slices.Sort(names)
			b = append(b, '{')
			for i, k := range names {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendString(b, k)
				b = append(b, ':')
				b = appendString(b, r.Identity.Claim[k])
			}
			b = append(b, '}')
		}
		b = append(b, '}')
	}

	p := &r.Properties
	b = append(b, `,"properties":{`...)
	n := len(b)
	b = appendField(b, "id", p.ID)
	b = appendField(b, "clientInfo", p.ClientInfo)
	if p.HTTPStatusCode != 0 {
		b = append(b, `,"httpStatusCode":`...)
		b = strconv.AppendInt(b, int64(p.HTTPStatusCode), 10)
	}
	b = appendField(b, "requestUri", p.RequestURI)
	if p.IsAccessPolicyMatch != nil {
		b = append(b, `,"isAccessPolicyMatch":`...)
		b = strconv.AppendBool(b, *p.IsAccessPolicyMatch)
	}
	if p.IsRbacAuthorized != nil {
		b = append(b, `,"isRbacAuthorized":`...)
		b = strconv.AppendBool(b, *p.IsRbacAuthorized)
	}
	b = appendField(b, "tlsVersion", p.TLSVersion)
	b = appendField(b, "algorithm", p.Algorithm)
	b = appendField(b, "vault", p.Vault)
	b = appendField(b, "details", p.Details)
	if len(b) > n {
		b = slices.Delete(b, n, n+1) // the first field's comma
	}
	return append(b, '}')
}

// appendField appends ,"name":"value" unless value is empty (omitempty).
func appendField(b []byte, name, value string) []byte {
	if value == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendString(b, value)
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte { return jsonenc.AppendString(b, s) }

// appendChain appends the chain fields and the closing brace to body, with
// hash as the hash's value.
func appendChain(body []byte, seq uint64, prev, hash string) []byte {
	body = append(body, `,"seq":`...)
	body = strconv.AppendUint(body, seq, 10)
	body = append(body, `,"prevHash":"`...)
	body = append(body, prev...)
	body = append(body, `","hash":"`...)
	body = append(body, hash...)
	return append(body, '"', '}')
}

// chainLine returns the line of a record whose body is body, with sequence
// number seq after the record whose hash is prev, and the record's hash.
// prev is a hex hash or empty, so it needs no escaping.
func chainLine(body []byte, seq uint64, prev string) (line []byte, hash string) {
	raw := appendChain(body[:len(body):len(body)], seq, prev, "")
	hash = hashLine(prev, raw)
	line = appendChain(raw[:len(body)], seq, prev, hash)
	return append(line, '\n'), hash
}

package api

import (
	"encoding/base64"

	"github.com/keyvault/keyvault/internal/jsonenc"
	"github.com/keyvault/keyvault/internal/keys"
)

// Key operations are the requests a vault serves most, so their bodies are
// decoded and encoded by hand. The result must be what encoding/json gives;
// FuzzKeyOperationFastPath and TestKeyOperationResultEncoding compare the two.

// parseKeyOperation decodes the usual form of a key operation body: one JSON
// object whose member names are the known ones in lower case, with string
// values of plain ASCII and valid base64. It returns false for any other
// body, which encoding/json then decodes, so that unusual bodies are read,
// and their errors worded, as before.
func parseKeyOperation(body []byte) (keyOperationRequest, bool) {
	var req keyOperationRequest
	p := scanner{b: body}
	if !p.byte('{') {
		return req, false
	}
	if p.byte('}') {
		return req, p.end()
	}
	for {
		name, ok := p.str()
		if !ok || !p.byte(':') {
			return req, false
		}
		value, ok := p.str()
		if !ok {
			return req, false
		}
		var field *keys.Base64URL
		switch string(name) {
		case "alg":
			req.Alg = string(value)
		case "value":
			field = &req.Value
		case "iv":
			field = &req.IV
		case "aad":
			field = &req.AAD
		case "tag":
			field = &req.Tag
		case "digest":
			field = &req.Digest
		default:
			return req, false
		}
		if field != nil {
			raw, err := keys.DecodeBase64URL(string(value))
			if err != nil {
				return req, false
			}
			*field = raw
		}
		if p.byte('}') {
			return req, p.end()
		}
		if !p.byte(',') {
			return req, false
		}
	}
}

// scanner reads the tokens parseKeyOperation accepts, skipping white space.
type scanner struct {
	b []byte
	i int
}

func (p *scanner) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// byte consumes c if it is the next token.
func (p *scanner) byte(c byte) bool {
	p.space()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// str consumes a string of plain ASCII (see jsonenc.Plain) and returns its
// content.
func (p *scanner) str() ([]byte, bool) {
	if !p.byte('"') {
		return nil, false
	}
	start := p.i
	for p.i < len(p.b) && p.b[p.i] != '"' {
		p.i++
	}
	if p.i == len(p.b) {
		return nil, false
	}
	s := p.b[start:p.i]
	p.i++
	return s, jsonenc.Plain(s)
}

// end reports whether only white space is left.
func (p *scanner) end() bool {
	p.space()
	return p.i == len(p.b)
}

// appendKeyOperationResult appends out as json.Marshal encodes it.
func appendKeyOperationResult(b []byte, out *keyOperationResult) []byte {
	b = append(b, `{"kid":`...)
	b = jsonenc.AppendString(b, out.Kid)
	b = appendBase64Field(b, "value", out.Value)
	if len(out.IV) > 0 {
		b = appendBase64Field(b, "iv", out.IV)
	}
	if len(out.Tag) > 0 {
		b = appendBase64Field(b, "tag", out.Tag)
	}
	if len(out.AAD) > 0 {
		b = appendBase64Field(b, "aad", out.AAD)
	}
	return append(b, '}')
}

func appendBase64Field(b []byte, name string, value []byte) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, `":"`...)
	b = base64.RawURLEncoding.AppendEncode(b, value)
	return append(b, '"')
}

// Package jsonenc appends JSON values by hand, for the few documents that
// are written on every request, with bytes identical to encoding/json's.
package jsonenc

import "encoding/json"

// AppendString appends s as a JSON string, exactly as json.Marshal encodes
// it. Printable ASCII other than the characters encoding/json escapes is
// copied, and any other string is left to encoding/json, which escapes
// control characters, HTML characters, invalid UTF-8 and U+2028/U+2029 in
// its own way.
func AppendString(b []byte, s string) []byte {
	if !Plain(s) {
		quoted, _ := json.Marshal(s) // a string always encodes
		return append(b, quoted...)
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// Plain reports whether s is printable ASCII without the characters that
// encoding/json escapes ("\<>&), so that its JSON string is s in quotes.
func Plain[T ~string | ~[]byte](s T) bool {
	for i := 0; i < len(s); i++ {
		if !plainByte(s[i]) {
			return false
		}
	}
	return true
}

func plainByte(c byte) bool {
	return c >= 0x20 && c <= 0x7e && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
}

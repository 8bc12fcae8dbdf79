package keys

import (
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
)

// defaultIV is the initial value of RFC 3394, section 2.2.3.1.
var defaultIV = [8]byte{0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6}

// aesKeyWrap wraps key data of at least 16 bytes, a multiple of 8, with the
// AES key wrap algorithm of RFC 3394, section 2.2.1 (index-based form).
func aesKeyWrap(block cipher.Block, plaintext []byte) ([]byte, error) {
	if len(plaintext) < 16 || len(plaintext)%8 != 0 {
		return nil, badParameter("AES key wrap needs key data of at least 16 bytes in multiples of 8, got %d bytes.", len(plaintext))
	}
	n := len(plaintext) / 8
	out := make([]byte, 8+len(plaintext))
	copy(out, defaultIV[:])
	copy(out[8:], plaintext)
	var b [16]byte
	for j := range 6 {
		for i := 1; i <= n; i++ {
			copy(b[:8], out[:8])
			copy(b[8:], out[8*i:8*i+8])
			block.Encrypt(b[:], b[:])
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(out[:8], binary.BigEndian.Uint64(b[:8])^t)
			copy(out[8*i:8*i+8], b[8:])
		}
	}
	return out, nil
}

// aesKeyUnwrap reverses aesKeyWrap (RFC 3394, section 2.2.2) and checks the
// integrity value.
func aesKeyUnwrap(block cipher.Block, ciphertext []byte) ([]byte, error) {
	if len(ciphertext) < 24 || len(ciphertext)%8 != 0 {
		return nil, badParameter("AES key unwrap needs at least 24 bytes in multiples of 8, got %d bytes.", len(ciphertext))
	}
	n := len(ciphertext)/8 - 1
	out := make([]byte, len(ciphertext))
	copy(out, ciphertext)
	var b [16]byte
	for j := 5; j >= 0; j-- {
		for i := n; i >= 1; i-- {
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(b[:8], binary.BigEndian.Uint64(out[:8])^t)
			copy(b[8:], out[8*i:8*i+8])
			block.Decrypt(b[:], b[:])
			copy(out[:8], b[:8])
			copy(out[8*i:8*i+8], b[8:])
		}
	}
	if subtle.ConstantTimeCompare(out[:8], defaultIV[:]) != 1 {
		return nil, badParameter("AES key unwrap failed: the wrapped key is invalid for this key.")
	}
	return out[8:], nil
}

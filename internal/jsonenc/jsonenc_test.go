package jsonenc

import (
	"bytes"
	"encoding/json"
	"testing"
)

func checkString(t *testing.T, s string) {
	t.Helper()
	want, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := AppendString([]byte("x"), s); !bytes.Equal(got, append([]byte("x"), want...)) {
		t.Errorf("AppendString(%q) = %s, want x%s", s, got, want)
	}
	// Plain may refuse strings that encode as themselves (DEL, non-ASCII),
	// but must never accept one that does not.
	if Plain(s) && string(want) != `"`+s+`"` {
		t.Errorf("Plain(%q) = true, but json.Marshal gives %s", s, want)
	}
	if Plain(s) != Plain([]byte(s)) {
		t.Errorf("Plain differs on %q as a string and as bytes", s)
	}
}

func TestAppendStringMatchesMarshal(t *testing.T) {
	for _, s := range []string{"", "plain", "a b", `"`, `\`, "<", ">", "&", "\x00", "\x1f", "\x7f", "é", "\u2028", "\xff", "~"} {
		checkString(t, s)
	}
	for c := range 256 {
		checkString(t, string([]byte{byte(c)}))
	}
}

func FuzzAppendString(f *testing.F) {
	f.Add("plain")
	f.Add("<\u2028\xff\"\\")
	f.Fuzz(checkString)
}

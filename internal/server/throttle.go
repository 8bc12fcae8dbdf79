package server

import (
	"strings"
	"sync"
	"time"
)

// Throttling limits per vault and 10-second window, from Azure Key Vault's
// published service limits (learn.microsoft.com, "Azure Key Vault service
// limits"). Secrets allow 300 creations and 4,000 other transactions. Software
// keys allow 20 creations and 4,000 other operations (RSA-2048 and EC weights).
// NOTE: Azure weighs RSA-3072 and RSA-4096 operations more (1,000 and 500
// per 10 s); this throttle counts every key operation alike.
const (
	throttleWindow        = 10 * time.Second
	limitSecretCreate     = 300
	limitKeyCreate        = 20
	limitOtherTransaction = 4000
)

// throttle counts requests per vault and class in fixed 10-second windows.
type throttle struct {
	scale float64 // multiplies every limit; 1 is Azure's

	mu      sync.Mutex
	windows map[string]*window
}

type window struct {
	start time.Time
	count int
}

func newThrottle(scale float64) *throttle {
	return &throttle{scale: scale, windows: make(map[string]*window)}
}

// class returns the throttling class of an operation and its limit.
func (t *throttle) class(operation string) (string, int) {
	switch {
	case operation == "SecretSet":
		return "secret-create", limitSecretCreate
	case operation == "KeyCreate" || operation == "KeyImport" || operation == "KeyRotate" || operation == "CertificateCreate":
		return "key-create", limitKeyCreate
	case strings.HasPrefix(operation, "Key"):
		return "key-other", limitOtherTransaction
	}
	return "other", limitOtherTransaction
}

// allow counts a request of operation on vault and reports whether it is
// within the limit. When it is not, wait is the time until the window ends.
func (t *throttle) allow(vaultID, operation string, now time.Time) (wait time.Duration, ok bool) {
	class, limit := t.class(operation)
	limit = max(1, int(float64(limit)*t.scale))
	key := vaultID + "\x00" + class
	t.mu.Lock()
	defer t.mu.Unlock()
	w := t.windows[key]
	if w == nil || now.Sub(w.start) >= throttleWindow {
		w = &window{start: now}
		t.windows[key] = w
	}
	if w.count >= limit {
		return w.start.Add(throttleWindow).Sub(now), false
	}
	w.count++
	return 0, true
}

package vault

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/keyvault/keyvault/internal/keys"
)

const day = 24 * time.Hour

// logRecorder is a slog.Handler that keeps every record, so tests can count
// the log lines RotateDue writes.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r.Clone())
	return nil
}

func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return h }

func (h *logRecorder) WithGroup(string) slog.Handler { return h }

// withMessage returns the records whose message is msg, as maps of their
// attributes rendered as strings.
func (h *logRecorder) withMessage(msg string) []map[string]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []map[string]string
	for _, r := range h.records {
		if r.Message != msg {
			continue
		}
		attrs := map[string]string{}
		r.Attrs(func(a slog.Attr) bool {
			attrs[a.Key] = a.Value.String()
			return true
		})
		out = append(out, attrs)
	}
	return out
}

const (
	rotatedMessage  = "rotated key by its rotation policy"
	notifiedMessage = "key nears expiry (Notify action of its rotation policy)"
)

// openRotationVault returns a Service on a bolt store in a temporary
// directory, its fake clock (set to start) and a vault named "rotation".
func openRotationVault(t *testing.T) (*Service, *fakeClock, *Vault) {
	t.Helper()
	svc, clock := newTestService(t, mustOpenStore(t), mustRootKey(t))
	return svc, clock, mustVault(t, svc, "rotation", DefaultRetentionDays, false)
}

func mustCreateKey(t *testing.T, svc *Service, v *Vault, name string, p KeyParams) *Key {
	t.Helper()
	k, err := svc.CreateKey(context.Background(), v, name, p)
	if err != nil {
		t.Fatalf("CreateKey(%s): %v", name, err)
	}
	return k
}

func mustSetPolicy(t *testing.T, svc *Service, v *Vault, name string, p RotationPolicy) *RotationPolicy {
	t.Helper()
	stored, err := svc.UpdateKeyRotationPolicy(context.Background(), v, name, p)
	if err != nil {
		t.Fatalf("UpdateKeyRotationPolicy(%s): %v", name, err)
	}
	return stored
}

// mustRotateDue runs RotateDue and checks how many keys it rotated.
func mustRotateDue(t *testing.T, svc *Service, log *slog.Logger, want int) {
	t.Helper()
	n, err := svc.RotateDue(context.Background(), log)
	if err != nil {
		t.Fatalf("RotateDue at %s: %v", svc.Now(), err)
	}
	if n != want {
		t.Fatalf("RotateDue at %s rotated %d keys, want %d", svc.Now(), n, want)
	}
}

func keyVersions(t *testing.T, svc *Service, v *Vault, name string) []*Key {
	t.Helper()
	items, _, err := svc.ListKeyVersions(context.Background(), v, name, "", 25)
	if err != nil {
		t.Fatalf("ListKeyVersions(%s): %v", name, err)
	}
	return items
}

func rotate(after string) LifetimeAction {
	return LifetimeAction{TimeAfterCreate: after, Type: ActionRotate}
}

func notify(before string) LifetimeAction {
	return LifetimeAction{TimeBeforeExpiry: before, Type: ActionNotify}
}

func TestRotationPolicyValidation(t *testing.T) {
	now := time.Date(2025, 2, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		policy  RotationPolicy
		valid   bool
		wantTyp []string // canonical action types after normalize
	}{
		{name: "empty policy", valid: true},
		{name: "expiry only", policy: RotationPolicy{ExpiryTime: "P90D"}, valid: true},
		{name: "expiry 28 days", policy: RotationPolicy{ExpiryTime: "P28D"}, valid: true},
		{name: "expiry 4 weeks", policy: RotationPolicy{ExpiryTime: "P4W"}, valid: true},
		{name: "expiry one February month", policy: RotationPolicy{ExpiryTime: "P1M"}, valid: true},
		{name: "expiry 27 days", policy: RotationPolicy{ExpiryTime: "P27D"}},
		{name: "expiry 671 hours", policy: RotationPolicy{ExpiryTime: "PT671H"}},
		{name: "expiry not a duration", policy: RotationPolicy{ExpiryTime: "90D"}},
		{
			name:   "rotate after 7 days",
			policy: RotationPolicy{LifetimeActions: []LifetimeAction{rotate("P7D")}},
			valid:  true, wantTyp: []string{ActionRotate},
		},
		{name: "rotate after 6 days", policy: RotationPolicy{LifetimeActions: []LifetimeAction{rotate("P6D")}}},
		{name: "rotate after 167 hours", policy: RotationPolicy{LifetimeActions: []LifetimeAction{rotate("PT167H")}}},
		{
			name:   "rotate 7 days before expiry",
			policy: RotationPolicy{ExpiryTime: "P28D", LifetimeActions: []LifetimeAction{rotate("P21D")}},
			valid:  true, wantTyp: []string{ActionRotate},
		},
		{name: "rotate 6 days before expiry", policy: RotationPolicy{ExpiryTime: "P28D", LifetimeActions: []LifetimeAction{rotate("P22D")}}},
		{name: "rotate after expiry", policy: RotationPolicy{ExpiryTime: "P30D", LifetimeActions: []LifetimeAction{rotate("P60D")}}},
		{
			name:   "notify 21 days before a 28-day expiry",
			policy: RotationPolicy{ExpiryTime: "P28D", LifetimeActions: []LifetimeAction{notify("P21D")}},
			valid:  true, wantTyp: []string{ActionNotify},
		},
		{name: "notify 22 days before a 28-day expiry", policy: RotationPolicy{ExpiryTime: "P28D", LifetimeActions: []LifetimeAction{notify("P22D")}}},
		{name: "notify 6 days before expiry", policy: RotationPolicy{ExpiryTime: "P90D", LifetimeActions: []LifetimeAction{notify("P6D")}}},
		{name: "notify without expiry", policy: RotationPolicy{LifetimeActions: []LifetimeAction{notify("P30D")}}},
		{name: "rotate before expiry without expiry", policy: RotationPolicy{LifetimeActions: []LifetimeAction{{TimeBeforeExpiry: "P30D", Type: "Rotate"}}}},
		{name: "notify after create", policy: RotationPolicy{ExpiryTime: "P90D", LifetimeActions: []LifetimeAction{{TimeAfterCreate: "P30D", Type: "Notify"}}}},
		{
			name: "rotate and notify",
			policy: RotationPolicy{ExpiryTime: "P90D", LifetimeActions: []LifetimeAction{
				{TimeBeforeExpiry: "P30D", Type: "Rotate"}, notify("P30D"),
			}},
			valid: true, wantTyp: []string{ActionRotate, ActionNotify},
		},
		{
			name: "types in any case",
			policy: RotationPolicy{ExpiryTime: "P90D", LifetimeActions: []LifetimeAction{
				{TimeAfterCreate: "P30D", Type: "rOTATE"}, {TimeBeforeExpiry: "P30D", Type: "notify"},
			}},
			valid: true, wantTyp: []string{ActionRotate, ActionNotify},
		},
		{name: "two rotate actions", policy: RotationPolicy{LifetimeActions: []LifetimeAction{rotate("P30D"), rotate("P60D")}}},
		{name: "two rotate actions in other case", policy: RotationPolicy{LifetimeActions: []LifetimeAction{rotate("P30D"), {TimeAfterCreate: "P60D", Type: "ROTATE"}}}},
		{name: "two notify actions", policy: RotationPolicy{ExpiryTime: "P90D", LifetimeActions: []LifetimeAction{notify("P30D"), notify("P20D")}}},
		{
			name: "three actions",
			policy: RotationPolicy{ExpiryTime: "P90D", LifetimeActions: []LifetimeAction{
				rotate("P30D"), notify("P30D"), notify("P20D"),
			}},
		},
		{name: "unknown type", policy: RotationPolicy{LifetimeActions: []LifetimeAction{{TimeAfterCreate: "P30D", Type: "Delete"}}}},
		{name: "empty type", policy: RotationPolicy{LifetimeActions: []LifetimeAction{{TimeAfterCreate: "P30D"}}}},
		{name: "both triggers", policy: RotationPolicy{ExpiryTime: "P90D", LifetimeActions: []LifetimeAction{{TimeAfterCreate: "P30D", TimeBeforeExpiry: "P30D", Type: "Rotate"}}}},
		{name: "no trigger", policy: RotationPolicy{ExpiryTime: "P90D", LifetimeActions: []LifetimeAction{{Type: "Rotate"}}}},
		{name: "trigger not a duration", policy: RotationPolicy{LifetimeActions: []LifetimeAction{rotate("P-1D")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.policy
			p.LifetimeActions = slices.Clone(p.LifetimeActions)
			err := p.normalize(now)
			if !tt.valid {
				wantError(t, "normalize", err, KindInvalid, "BadParameter")
				return
			}
			if err != nil {
				t.Fatalf("normalize: %v", err)
			}
			var types []string
			for _, a := range p.LifetimeActions {
				types = append(types, a.Type)
			}
			if !slices.Equal(types, tt.wantTyp) {
				t.Errorf("action types = %v, want %v", types, tt.wantTyp)
			}
		})
	}
}

func TestKeyRotationPolicyStore(t *testing.T) {
	ctx := context.Background()
	svc, clock, v := openRotationVault(t)
	mustCreateKey(t, svc, v, "signer", KeyParams{Kty: keys.KtyEC})

	t.Run("default policy", func(t *testing.T) {
		p, err := svc.GetKeyRotationPolicy(ctx, v, "signer")
		if err != nil {
			t.Fatalf("GetKeyRotationPolicy: %v", err)
		}
		want := []LifetimeAction{notify("P30D")}
		if !slices.Equal(p.LifetimeActions, want) || p.ExpiryTime != "" {
			t.Errorf("default policy = %+v, want actions %+v and no expiry", p, want)
		}
	})

	t.Run("invalid policy", func(t *testing.T) {
		_, err := svc.UpdateKeyRotationPolicy(ctx, v, "signer", RotationPolicy{ExpiryTime: "P7D"})
		wantError(t, "UpdateKeyRotationPolicy", err, KindInvalid, "BadParameter")
	})

	t.Run("unknown key", func(t *testing.T) {
		_, err := svc.UpdateKeyRotationPolicy(ctx, v, "missing", RotationPolicy{ExpiryTime: "P90D"})
		wantError(t, "UpdateKeyRotationPolicy", err, KindNotFound, "KeyNotFound")
		_, err = svc.GetKeyRotationPolicy(ctx, v, "missing")
		wantError(t, "GetKeyRotationPolicy", err, KindNotFound, "KeyNotFound")
	})

	t.Run("stored canonical", func(t *testing.T) {
		stored := mustSetPolicy(t, svc, v, "SIGNER", RotationPolicy{
			ExpiryTime:      "P90D",
			LifetimeActions: []LifetimeAction{{TimeAfterCreate: "P60D", Type: "rotate"}},
		})
		if stored.LifetimeActions[0].Type != ActionRotate {
			t.Errorf("stored type = %q, want %q", stored.LifetimeActions[0].Type, ActionRotate)
		}
		if stored.Created != start.Unix() || stored.Updated != start.Unix() {
			t.Errorf("created, updated = %d, %d; want %d, %d", stored.Created, stored.Updated, start.Unix(), start.Unix())
		}
		got, err := svc.GetKeyRotationPolicy(ctx, v, "signer")
		if err != nil {
			t.Fatalf("GetKeyRotationPolicy: %v", err)
		}
		if got.ExpiryTime != "P90D" || !slices.Equal(got.LifetimeActions, stored.LifetimeActions) {
			t.Errorf("GetKeyRotationPolicy = %+v, want %+v", got, stored)
		}

		clock.Set(start.Add(time.Hour))
		again := mustSetPolicy(t, svc, v, "signer", RotationPolicy{ExpiryTime: "P60D"})
		if again.Created != start.Unix() || again.Updated != start.Add(time.Hour).Unix() {
			t.Errorf("after update: created, updated = %d, %d; want %d, %d",
				again.Created, again.Updated, start.Unix(), start.Add(time.Hour).Unix())
		}
	})
}

// TestRotateDue runs a policy that rotates 30 days after creation with a
// 90-day expiry and steps the clock across each due time.
func TestRotateDue(t *testing.T) {
	ctx := context.Background()
	svc, clock, v := openRotationVault(t)
	rec := &logRecorder{}
	log := slog.New(rec)
	tags := map[string]string{"team": "payments"}
	first := mustCreateKey(t, svc, v, "rotating", KeyParams{
		Kty: keys.KtyEC, Curve: keys.CurveP384, KeyOps: []string{keys.OpSign}, Tags: tags,
	})
	mustSetPolicy(t, svc, v, "rotating", RotationPolicy{ExpiryTime: "P90D", LifetimeActions: []LifetimeAction{rotate("P30D")}})
	// A key without a stored policy has only the default Notify action and
	// never rotates.
	mustCreateKey(t, svc, v, "unmanaged", KeyParams{Kty: keys.KtyOct, Size: 128})

	clock.Set(start.Add(30*day - time.Second))
	mustRotateDue(t, svc, log, 0)
	if n := len(keyVersions(t, svc, v, "rotating")); n != 1 {
		t.Fatalf("versions before the due time = %d, want 1", n)
	}

	rotatedAt := start.Add(30 * day)
	clock.Set(rotatedAt)
	mustRotateDue(t, svc, log, 1)
	if n := len(keyVersions(t, svc, v, "rotating")); n != 2 {
		t.Fatalf("versions after the due time = %d, want 2", n)
	}
	latest, err := svc.GetKey(ctx, v, "rotating", "")
	if err != nil {
		t.Fatalf("GetKey: %v", err)
	}
	if latest.Version == first.Version {
		t.Fatalf("latest version is still %s", first.Version)
	}
	wantExp := rotatedAt.AddDate(0, 0, 90).Unix()
	if latest.Attributes.Expires == nil || *latest.Attributes.Expires != wantExp {
		t.Errorf("new version exp = %v, want %d (rotation time + P90D)", latest.Attributes.Expires, wantExp)
	}
	if latest.Attributes.Created != rotatedAt.Unix() || !latest.Attributes.Enabled {
		t.Errorf("new version created, enabled = %d, %v; want %d, true", latest.Attributes.Created, latest.Attributes.Enabled, rotatedAt.Unix())
	}
	if latest.Public.Kty != keys.KtyEC || latest.Public.Crv != keys.CurveP384 {
		t.Errorf("new version kty, crv = %s, %s; want EC, P-384", latest.Public.Kty, latest.Public.Crv)
	}
	if string(latest.Public.X) == string(first.Public.X) {
		t.Errorf("new version has the old public key")
	}
	if !slices.Equal(latest.KeyOps, []string{keys.OpSign}) || !maps.Equal(latest.Tags, tags) {
		t.Errorf("new version key_ops, tags = %v, %v; want %v, %v", latest.KeyOps, latest.Tags, []string{keys.OpSign}, tags)
	}
	logged := rec.withMessage(rotatedMessage)
	if len(logged) != 1 || logged[0]["oldVersion"] != first.Version || logged[0]["newVersion"] != latest.Version {
		t.Errorf("rotation log lines = %v, want one from %s to %s", logged, first.Version, latest.Version)
	}

	// The new version restarts the 30 days.
	mustRotateDue(t, svc, log, 0)
	clock.Set(rotatedAt.Add(30*day - time.Second))
	mustRotateDue(t, svc, log, 0)
	clock.Set(rotatedAt.Add(30 * day))
	mustRotateDue(t, svc, log, 1)
	if n := len(keyVersions(t, svc, v, "rotating")); n != 3 {
		t.Errorf("versions after the second due time = %d, want 3", n)
	}
	if n := len(keyVersions(t, svc, v, "unmanaged")); n != 1 {
		t.Errorf("versions of the key without a policy = %d, want 1", n)
	}
}

// TestRotateDueCalendarMonth checks that a P1M trigger counts a calendar
// month: 28 days from the first of February 2025.
func TestRotateDueCalendarMonth(t *testing.T) {
	svc, clock, v := openRotationVault(t)
	log := slog.New(&logRecorder{})
	created := time.Date(2025, 2, 1, 12, 0, 0, 0, time.UTC)
	clock.Set(created)
	mustCreateKey(t, svc, v, "monthly", KeyParams{Kty: keys.KtyOct, Size: 192})
	mustSetPolicy(t, svc, v, "monthly", RotationPolicy{LifetimeActions: []LifetimeAction{rotate("P1M")}})

	clock.Set(time.Date(2025, 3, 1, 11, 59, 59, 0, time.UTC))
	mustRotateDue(t, svc, log, 0)
	clock.Set(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	mustRotateDue(t, svc, log, 1)

	versions := keyVersions(t, svc, v, "monthly")
	if len(versions) != 2 {
		t.Fatalf("versions = %d, want 2", len(versions))
	}
	for _, k := range versions {
		if k.Public.Kty != keys.KtyOct || k.Attributes.Expires != nil {
			t.Errorf("version %s: kty %s, exp %v; want oct without exp (the policy sets no expiryTime)", k.Version, k.Public.Kty, k.Attributes.Expires)
		}
	}
}

// TestRotateDueBeforeExpiry rotates 10 days before the key's own expiry.
func TestRotateDueBeforeExpiry(t *testing.T) {
	svc, clock, v := openRotationVault(t)
	log := slog.New(&logRecorder{})
	exp := start.Add(40 * day).Unix()
	mustCreateKey(t, svc, v, "expiring", KeyParams{Kty: keys.KtyEC, Curve: keys.CurveP256K, Expires: &exp})
	mustSetPolicy(t, svc, v, "expiring", RotationPolicy{
		ExpiryTime:      "P60D",
		LifetimeActions: []LifetimeAction{{TimeBeforeExpiry: "P10D", Type: ActionRotate}},
	})

	clock.Set(start.Add(30*day - time.Second))
	mustRotateDue(t, svc, log, 0)
	clock.Set(start.Add(30 * day))
	mustRotateDue(t, svc, log, 1)
	mustRotateDue(t, svc, log, 0)

	latest, err := svc.GetKey(context.Background(), v, "expiring", "")
	if err != nil {
		t.Fatalf("GetKey: %v", err)
	}
	if want := start.Add(30*day).AddDate(0, 0, 60).Unix(); latest.Attributes.Expires == nil || *latest.Attributes.Expires != want {
		t.Errorf("new version exp = %v, want %d", latest.Attributes.Expires, want)
	}
	if latest.Public.Crv != keys.CurveP256K {
		t.Errorf("new version crv = %s, want P-256K", latest.Public.Crv)
	}
}

func TestRotateDueSkipsDeletedKeys(t *testing.T) {
	ctx := context.Background()
	svc, clock, v := openRotationVault(t)
	log := slog.New(&logRecorder{})
	mustCreateKey(t, svc, v, "deleted", KeyParams{Kty: keys.KtyOct})
	mustSetPolicy(t, svc, v, "deleted", RotationPolicy{LifetimeActions: []LifetimeAction{rotate("P7D")}})
	mustCreateKey(t, svc, v, "purged", KeyParams{Kty: keys.KtyOct})
	mustSetPolicy(t, svc, v, "purged", RotationPolicy{LifetimeActions: []LifetimeAction{rotate("P7D")}})
	for _, name := range []string{"deleted", "purged"} {
		if _, err := svc.DeleteKey(ctx, v, name); err != nil {
			t.Fatalf("DeleteKey(%s): %v", name, err)
		}
	}
	if err := svc.PurgeDeletedKey(ctx, v, "purged"); err != nil {
		t.Fatalf("PurgeDeletedKey: %v", err)
	}

	clock.Set(start.Add(8 * day))
	mustRotateDue(t, svc, log, 0)

	if _, err := svc.RecoverDeletedKey(ctx, v, "deleted"); err != nil {
		t.Fatalf("RecoverDeletedKey: %v", err)
	}
	if n := len(keyVersions(t, svc, v, "deleted")); n != 1 {
		t.Fatalf("versions after recovery = %d, want 1: the key rotated while deleted", n)
	}
	// The recovered key keeps its policy, and its trigger has passed.
	mustRotateDue(t, svc, log, 1)
	if n := len(keyVersions(t, svc, v, "deleted")); n != 2 {
		t.Errorf("versions after RotateDue on the recovered key = %d, want 2", n)
	}
}

// TestNotifyOncePerVersion checks that a Notify action logs once for each
// version whose expiry comes within its timeBeforeExpiry.
func TestNotifyOncePerVersion(t *testing.T) {
	svc, clock, v := openRotationVault(t)
	rec := &logRecorder{}
	log := slog.New(rec)
	policy := RotationPolicy{ExpiryTime: "P90D", LifetimeActions: []LifetimeAction{notify("P30D")}}
	exp := start.Add(40 * day).Unix()
	first := mustCreateKey(t, svc, v, "expiring", KeyParams{Kty: keys.KtyEC, Expires: &exp})
	mustSetPolicy(t, svc, v, "expiring", policy)
	// A key without exp has nothing to be notified about.
	mustCreateKey(t, svc, v, "forever", KeyParams{Kty: keys.KtyEC})
	mustSetPolicy(t, svc, v, "forever", policy)

	clock.Set(start.Add(10*day - time.Second))
	mustRotateDue(t, svc, log, 0)
	if got := rec.withMessage(notifiedMessage); len(got) != 0 {
		t.Fatalf("notifications 30 days and 1 second before expiry = %v, want none", got)
	}

	clock.Set(start.Add(10 * day))
	mustRotateDue(t, svc, log, 0)
	clock.Set(start.Add(11 * day))
	mustRotateDue(t, svc, log, 0)
	got := rec.withMessage(notifiedMessage)
	if len(got) != 1 {
		t.Fatalf("notifications after two runs = %v, want exactly one", got)
	}
	if got[0]["key"] != "expiring" || got[0]["version"] != first.Version {
		t.Errorf("notification = %v, want key expiring version %s", got[0], first.Version)
	}

	// Storing the policy again keeps the record of the notified version.
	mustSetPolicy(t, svc, v, "expiring", policy)
	mustRotateDue(t, svc, log, 0)
	if got := rec.withMessage(notifiedMessage); len(got) != 1 {
		t.Fatalf("notifications after the policy update = %d, want still 1", len(got))
	}

	// A new version that also nears its expiry is announced once.
	exp2 := start.Add(11*day + 20*day).Unix()
	second := mustCreateKey(t, svc, v, "expiring", KeyParams{Kty: keys.KtyEC, Expires: &exp2})
	mustRotateDue(t, svc, log, 0)
	mustRotateDue(t, svc, log, 0)
	got = rec.withMessage(notifiedMessage)
	if len(got) != 2 {
		t.Fatalf("notifications after a new version = %d (%v), want 2", len(got), got)
	}
	if got[1]["version"] != second.Version {
		t.Errorf("second notification is for version %s, want %s", got[1]["version"], second.Version)
	}
	if n := len(rec.withMessage(rotatedMessage)); n != 0 {
		t.Errorf("rotations logged = %d, want 0 (the policy has no Rotate action)", n)
	}
}

package vault

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyvault/keyvault/internal/seal"
	"github.com/keyvault/keyvault/internal/storage"
	"github.com/keyvault/keyvault/internal/storage/bolt"
)

// start is the fake clock's first reading; any fixed time works.
var start = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeClock is a Service.Now that moves only when a test sets it.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// mustOpenStore opens a bolt store in a temporary directory.
func mustOpenStore(tb testing.TB) storage.Store {
	tb.Helper()
	s, err := bolt.Open(filepath.Join(tb.TempDir(), "store.db"), bolt.Options{})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("close store: %v", err)
		}
	})
	return s
}

func mustRootKey(tb testing.TB) seal.RootKey {
	tb.Helper()
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		tb.Fatal(err)
	}
	key, err := seal.NewFileRootKey(raw)
	if err != nil {
		tb.Fatal(err)
	}
	return key
}

// newTestService returns a Service on store whose clock starts at start.
func newTestService(tb testing.TB, store storage.Store, root seal.RootKey) (*Service, *fakeClock) {
	tb.Helper()
	clock := &fakeClock{now: start}
	svc := NewService(store, seal.NewKeyring(store, root))
	svc.Now = clock.Now
	return svc, clock
}

func mustVault(tb testing.TB, svc *Service, name string, retention int, purgeProtection bool) *Vault {
	tb.Helper()
	v, err := svc.EnsureVault(context.Background(), Vault{Name: name, RetentionDays: retention, PurgeProtection: purgeProtection})
	if err != nil {
		tb.Fatalf("EnsureVault(%s): %v", name, err)
	}
	return v
}

func mustSet(tb testing.TB, svc *Service, v *Vault, name, value string) *Secret {
	tb.Helper()
	s, err := svc.SetSecret(context.Background(), v, name, SecretParams{Value: value})
	if err != nil {
		tb.Fatalf("SetSecret(%s): %v", name, err)
	}
	return s
}

// wantError fails the test unless err is a *Error with the given kind and code.
func wantError(t *testing.T, call string, err error, kind Kind, code string) {
	t.Helper()
	e := AsError(err)
	if e == nil {
		t.Errorf("%s: error = %v, want a vault error %s", call, err, code)
		return
	}
	if e.Kind != kind || e.Code != code {
		t.Errorf("%s: error = kind %d code %s (%v), want kind %d code %s", call, e.Kind, e.Code, err, kind, code)
	}
}

func TestRecoveryLevel(t *testing.T) {
	tests := []struct {
		retention       int
		purgeProtection bool
		want            string
	}{
		{retention: 7, purgeProtection: false, want: "CustomizedRecoverable+Purgeable"},
		{retention: 7, purgeProtection: true, want: "CustomizedRecoverable"},
		{retention: 89, purgeProtection: false, want: "CustomizedRecoverable+Purgeable"},
		{retention: 89, purgeProtection: true, want: "CustomizedRecoverable"},
		{retention: 90, purgeProtection: false, want: "Recoverable+Purgeable"},
		{retention: 90, purgeProtection: true, want: "Recoverable"},
	}
	for _, tt := range tests {
		name := strconv.Itoa(tt.retention) + "Days"
		if tt.purgeProtection {
			name += "Protected"
		}
		t.Run(name, func(t *testing.T) {
			v := &Vault{Name: "v", RetentionDays: tt.retention, PurgeProtection: tt.purgeProtection}
			if got := v.RecoveryLevel(); got != tt.want {
				t.Errorf("RecoveryLevel() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEnsureVaultRetention(t *testing.T) {
	svc, _ := newTestService(t, mustOpenStore(t), mustRootKey(t))
	ctx := context.Background()
	for _, days := range []int{0, 6, 91, -1} {
		_, err := svc.EnsureVault(ctx, Vault{Name: "retention", RetentionDays: days})
		wantError(t, "EnsureVault with retention "+strconv.Itoa(days), err, KindInvalid, "BadParameter")
	}
	v := mustVault(t, svc, "Retention", 7, false)
	if v.Created != start.Unix() {
		t.Errorf("Created = %d, want %d", v.Created, start.Unix())
	}

	// A second EnsureVault keeps the stored settings and only ever switches
	// purge protection on.
	again := mustVault(t, svc, "retention", 90, true)
	if again.RetentionDays != 7 {
		t.Errorf("RetentionDays after second EnsureVault = %d, want 7", again.RetentionDays)
	}
	if !again.PurgeProtection {
		t.Error("PurgeProtection after EnsureVault asked for it = false, want true")
	}
	off := mustVault(t, svc, "RETENTION", 7, false)
	if !off.PurgeProtection {
		t.Error("PurgeProtection after EnsureVault without it = false, want it to stay on")
	}
	got, err := svc.GetVault(ctx, "rEtEnTiOn")
	if err != nil {
		t.Fatalf("GetVault: %v", err)
	}
	if got.Name != "Retention" {
		t.Errorf("Name = %q, want the first spelling %q", got.Name, "Retention")
	}
	_, err = svc.GetVault(ctx, "missing")
	wantError(t, "GetVault(missing)", err, KindNotFound, "VaultNotFound")
}

func TestValidateVaultName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{name: "abc", ok: true},
		{name: "a-b", ok: true},
		{name: "A1b2C3", ok: true},
		{name: "my-vault-01", ok: true},
		{name: "a" + strings.Repeat("b", 23), ok: true},
		{name: "", ok: false},
		{name: "ab", ok: false},
		{name: "a" + strings.Repeat("b", 24), ok: false},
		{name: "1abc", ok: false},
		{name: "-abc", ok: false},
		{name: "abc-", ok: false},
		{name: "a--b", ok: false},
		{name: "ab_c", ok: false},
		{name: "ab.c", ok: false},
		{name: "ab c", ok: false},
		{name: "abc\n", ok: false},
		{name: "äbc", ok: false},
		{name: "_server", ok: false},
	}
	for _, tt := range tests {
		t.Run(strconv.Quote(tt.name), func(t *testing.T) {
			err := ValidateVaultName(tt.name)
			if tt.ok {
				if err != nil {
					t.Errorf("ValidateVaultName(%q) = %v, want nil", tt.name, err)
				}
				return
			}
			wantError(t, "ValidateVaultName("+strconv.Quote(tt.name)+")", err, KindInvalid, "BadParameter")
		})
	}
}

func TestValidateObjectName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{name: "a", ok: true},
		{name: "1", ok: true},
		{name: "-", ok: true},
		{name: "My-Secret-2", ok: true},
		{name: "--double--", ok: true},
		{name: strings.Repeat("x", 127), ok: true},
		{name: "", ok: false},
		{name: strings.Repeat("x", 128), ok: false},
		{name: "a_b", ok: false},
		{name: "a.b", ok: false},
		{name: "a b", ok: false},
		{name: "a/b", ok: false},
		{name: "a\n", ok: false},
		{name: "%41", ok: false},
		{name: "é", ok: false},
		{name: "a\x00", ok: false},
	}
	for _, tt := range tests {
		t.Run(strconv.Quote(tt.name), func(t *testing.T) {
			err := ValidateObjectName(tt.name)
			if tt.ok {
				if err != nil {
					t.Errorf("ValidateObjectName(%q) = %v, want nil", tt.name, err)
				}
				return
			}
			wantError(t, "ValidateObjectName("+strconv.Quote(tt.name)+")", err, KindInvalid, "BadParameter")
		})
	}
}

func TestSecretValueLength(t *testing.T) {
	svc, _ := newTestService(t, mustOpenStore(t), mustRootKey(t))
	v := mustVault(t, svc, "lengths", 90, false)
	const astral = "\U0001F600" // two UTF-16 code units, four UTF-8 bytes
	tests := []struct {
		name  string
		value string
		ok    bool
	}{
		{name: "Empty", value: "", ok: true},
		{name: "ASCIIMax", value: strings.Repeat("a", 25600), ok: true},
		{name: "ASCIIOver", value: strings.Repeat("a", 25601), ok: false},
		{name: "BMPMax", value: strings.Repeat("中", 25600), ok: true},
		{name: "BMPOver", value: strings.Repeat("中", 25601), ok: false},
		{name: "AstralMax", value: strings.Repeat(astral, 12800), ok: true},
		{name: "AstralOver", value: strings.Repeat(astral, 12801), ok: false},
		{name: "AstralOddOver", value: strings.Repeat(astral, 12800) + "a", ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := svc.SetSecret(context.Background(), v, "len-"+tt.name, SecretParams{Value: tt.value})
			if tt.ok {
				if err != nil {
					t.Fatalf("SetSecret: %v", err)
				}
				got, err := svc.GetSecret(context.Background(), v, s.Name, "")
				if err != nil {
					t.Fatalf("GetSecret: %v", err)
				}
				if got.Value != tt.value {
					t.Errorf("GetSecret value has %d bytes, want %d", len(got.Value), len(tt.value))
				}
				return
			}
			wantError(t, "SetSecret", err, KindInvalid, "BadParameter")
		})
	}
	t.Run("MessageCountsUnits", func(t *testing.T) {
		_, err := svc.SetSecret(context.Background(), v, "units", SecretParams{Value: strings.Repeat(astral, 12801)})
		if err == nil || !strings.Contains(err.Error(), "25602") {
			t.Errorf("error = %v, want it to give the length 25602 in UTF-16 code units", err)
		}
	})
}

func TestPurgeSchedule(t *testing.T) {
	ctx := context.Background()
	const retention = 7
	due := start.Add(retention * 24 * time.Hour)

	t.Run("PurgeDue", func(t *testing.T) {
		store := mustOpenStore(t)
		svc, clock := newTestService(t, store, mustRootKey(t))
		v := mustVault(t, svc, "purges", retention, false)
		first := mustSet(t, svc, v, "Doomed", "one")
		mustSet(t, svc, v, "doomed", "two")
		mustSet(t, svc, v, "kept", "stays")

		deleted, err := svc.DeleteSecret(ctx, v, "DOOMED")
		if err != nil {
			t.Fatalf("DeleteSecret: %v", err)
		}
		if deleted.DeletedDate != start.Unix() {
			t.Errorf("DeletedDate = %d, want %d", deleted.DeletedDate, start.Unix())
		}
		if deleted.ScheduledPurgeDate != due.Unix() {
			t.Errorf("ScheduledPurgeDate = %d, want %d", deleted.ScheduledPurgeDate, due.Unix())
		}
		if deleted.Name != first.Name {
			t.Errorf("deleted Name = %q, want %q", deleted.Name, first.Name)
		}
		if deleted.Value != "" {
			t.Errorf("deleted secret carries its value %q, want none", deleted.Value)
		}
		_, err = svc.SetSecret(ctx, v, "doomed", SecretParams{Value: "reuse"})
		wantError(t, "SetSecret on a deleted name", err, KindConflict, "Conflict")

		clock.Set(due.Add(-time.Second))
		if n, err := svc.PurgeDue(ctx); err != nil || n != 0 {
			t.Errorf("PurgeDue a second before the date = %d, %v, want 0, nil", n, err)
		}
		if _, err := svc.GetDeletedSecret(ctx, v, "doomed"); err != nil {
			t.Errorf("GetDeletedSecret before the date: %v", err)
		}

		clock.Set(due)
		if n, err := svc.PurgeDue(ctx); err != nil || n != 1 {
			t.Errorf("PurgeDue at the date = %d, %v, want 1, nil", n, err)
		}
		_, err = svc.GetDeletedSecret(ctx, v, "doomed")
		wantError(t, "GetDeletedSecret after purge", err, KindNotFound, "SecretNotFound")
		if keys := scanKeys(t, store, secretKind.versions, v.ID()+"\x00doomed\x00"); len(keys) != 0 {
			t.Errorf("versions left after purge: %q", keys)
		}
		if keys := scanKeys(t, store, bucketPurgeSchedule, ""); len(keys) != 0 {
			t.Errorf("purge schedule after purge = %q, want empty", keys)
		}
		if got, err := svc.GetSecret(ctx, v, "kept", ""); err != nil || got.Value != "stays" {
			t.Errorf("GetSecret(kept) = %v, %v, want value %q", got, err, "stays")
		}

		reused := mustSet(t, svc, v, "doomed", "new life")
		versions, _, err := svc.ListSecretVersions(ctx, v, "doomed", "", 25)
		if err != nil {
			t.Fatalf("ListSecretVersions: %v", err)
		}
		if len(versions) != 1 || versions[0].Version != reused.Version {
			t.Errorf("versions of the reused name = %d, want only the new version %s", len(versions), reused.Version)
		}
		if n, err := svc.PurgeDue(ctx); err != nil || n != 0 {
			t.Errorf("second PurgeDue = %d, %v, want 0, nil", n, err)
		}
	})

	t.Run("RecoverUnschedules", func(t *testing.T) {
		store := mustOpenStore(t)
		svc, clock := newTestService(t, store, mustRootKey(t))
		v := mustVault(t, svc, "recovers", retention, false)
		set := mustSet(t, svc, v, "back", "value")
		if _, err := svc.DeleteSecret(ctx, v, "back"); err != nil {
			t.Fatalf("DeleteSecret: %v", err)
		}
		if keys := scanKeys(t, store, bucketPurgeSchedule, ""); len(keys) != 1 {
			t.Fatalf("purge schedule after delete has %d entries, want 1", len(keys))
		}
		recovered, err := svc.RecoverDeletedSecret(ctx, v, "BACK")
		if err != nil {
			t.Fatalf("RecoverDeletedSecret: %v", err)
		}
		if recovered.Version != set.Version || recovered.Value != "" {
			t.Errorf("recovered = version %s value %q, want version %s without a value", recovered.Version, recovered.Value, set.Version)
		}
		if keys := scanKeys(t, store, bucketPurgeSchedule, ""); len(keys) != 0 {
			t.Errorf("purge schedule after recover = %q, want empty", keys)
		}

		clock.Set(due.Add(24 * time.Hour))
		if n, err := svc.PurgeDue(ctx); err != nil || n != 0 {
			t.Errorf("PurgeDue after recover = %d, %v, want 0, nil", n, err)
		}
		if got, err := svc.GetSecret(ctx, v, "back", ""); err != nil || got.Value != "value" {
			t.Errorf("GetSecret after recover and PurgeDue = %v, %v, want value %q", got, err, "value")
		}
		_, err = svc.RecoverDeletedSecret(ctx, v, "back")
		wantError(t, "second RecoverDeletedSecret", err, KindNotFound, "SecretNotFound")
	})

	t.Run("PurgeProtection", func(t *testing.T) {
		store := mustOpenStore(t)
		svc, clock := newTestService(t, store, mustRootKey(t))
		v := mustVault(t, svc, "protected", retention, true)
		mustSet(t, svc, v, "locked", "value")
		if _, err := svc.DeleteSecret(ctx, v, "locked"); err != nil {
			t.Fatalf("DeleteSecret: %v", err)
		}
		err := svc.PurgeDeletedSecret(ctx, v, "locked")
		wantError(t, "PurgeDeletedSecret with purge protection", err, KindForbidden, "Forbidden")
		if _, err := svc.GetDeletedSecret(ctx, v, "locked"); err != nil {
			t.Errorf("GetDeletedSecret after refused purge: %v", err)
		}
		clock.Set(due)
		if n, err := svc.PurgeDue(ctx); err != nil || n != 1 {
			t.Errorf("PurgeDue at the date = %d, %v, want 1, nil", n, err)
		}
		_, err = svc.GetDeletedSecret(ctx, v, "locked")
		wantError(t, "GetDeletedSecret after PurgeDue", err, KindNotFound, "SecretNotFound")
	})

	t.Run("PurgeNow", func(t *testing.T) {
		store := mustOpenStore(t)
		svc, _ := newTestService(t, store, mustRootKey(t))
		v := mustVault(t, svc, "purgenow", retention, false)
		mustSet(t, svc, v, "gone", "value")
		if _, err := svc.DeleteSecret(ctx, v, "gone"); err != nil {
			t.Fatalf("DeleteSecret: %v", err)
		}
		if err := svc.PurgeDeletedSecret(ctx, v, "gone"); err != nil {
			t.Fatalf("PurgeDeletedSecret: %v", err)
		}
		if keys := scanKeys(t, store, bucketPurgeSchedule, ""); len(keys) != 0 {
			t.Errorf("purge schedule after purge = %q, want empty", keys)
		}
		err := svc.PurgeDeletedSecret(ctx, v, "gone")
		wantError(t, "second PurgeDeletedSecret", err, KindNotFound, "SecretNotFound")
	})
}

// hookStore runs a function once, before the next Update after it is armed.
type hookStore struct {
	storage.Store
	hook atomic.Pointer[func()]
}

func (h *hookStore) Update(ctx context.Context, fn func(storage.Tx) error) error {
	if f := h.hook.Swap(nil); f != nil {
		(*f)()
	}
	return h.Store.Update(ctx, fn)
}

func TestPurgeDueSkipsRedeleted(t *testing.T) {
	ctx := context.Background()
	const retention = 7
	due := start.Add(retention * 24 * time.Hour)
	store := &hookStore{Store: mustOpenStore(t)}
	svc, clock := newTestService(t, store, mustRootKey(t))
	v := mustVault(t, svc, "redelete", retention, true)
	mustSet(t, svc, v, "again", "value")
	if _, err := svc.DeleteSecret(ctx, v, "again"); err != nil {
		t.Fatalf("DeleteSecret: %v", err)
	}

	// Between PurgeDue's scan and its purge, the secret is recovered and
	// deleted again, which schedules it a full retention period later.
	clock.Set(due)
	hook := func() {
		if _, err := svc.RecoverDeletedSecret(ctx, v, "again"); err != nil {
			t.Errorf("RecoverDeletedSecret: %v", err)
		}
		if _, err := svc.DeleteSecret(ctx, v, "again"); err != nil {
			t.Errorf("DeleteSecret: %v", err)
		}
	}
	store.hook.Store(&hook)
	n, err := svc.PurgeDue(ctx)
	if err != nil {
		t.Fatalf("PurgeDue: %v", err)
	}
	if n != 0 {
		t.Errorf("PurgeDue = %d, want 0", n)
	}
	d, err := svc.GetDeletedSecret(ctx, v, "again")
	if err != nil {
		t.Fatalf("GetDeletedSecret after PurgeDue: %v (the new deletion was purged before its date)", err)
	}
	if want := due.Add(retention * 24 * time.Hour).Unix(); d.ScheduledPurgeDate != want {
		t.Errorf("ScheduledPurgeDate = %d, want %d", d.ScheduledPurgeDate, want)
	}
}

func TestRestoreOtherVault(t *testing.T) {
	ctx := context.Background()
	svc, _ := newTestService(t, mustOpenStore(t), mustRootKey(t))
	src := mustVault(t, svc, "source", 90, false)
	var want []*Secret
	for i := range 3 {
		want = append(want, mustSet(t, svc, src, "Moved", "value "+strconv.Itoa(i)))
	}
	blob, err := svc.BackupSecret(ctx, src, "moved")
	if err != nil {
		t.Fatalf("BackupSecret: %v", err)
	}
	for _, s := range want {
		if bytes.Contains(blob, []byte(s.Value)) {
			t.Errorf("backup blob contains the value %q in the clear", s.Value)
		}
	}

	dst := mustVault(t, svc, "destination", 90, false)
	restored, err := svc.RestoreSecret(ctx, dst, blob)
	if err != nil {
		t.Fatalf("RestoreSecret into another vault: %v", err)
	}
	latest := want[len(want)-1]
	if restored.Name != "Moved" || restored.Version != latest.Version || restored.Value != "" {
		t.Errorf("restored = %s/%s value %q, want Moved/%s without a value", restored.Name, restored.Version, restored.Value, latest.Version)
	}
	for _, s := range want {
		got, err := svc.GetSecret(ctx, dst, "moved", s.Version)
		if err != nil {
			t.Errorf("GetSecret(version %s) in the destination: %v", s.Version, err)
			continue
		}
		if got.Value != s.Value || got.Attributes.Created != s.Attributes.Created {
			t.Errorf("version %s = value %q created %d, want %q created %d", s.Version, got.Value, got.Attributes.Created, s.Value, s.Attributes.Created)
		}
	}
	got, err := svc.GetSecret(ctx, dst, "moved", "")
	if err != nil || got.Version != latest.Version {
		t.Errorf("latest version in the destination = %v, %v, want %s", got, err, latest.Version)
	}
	versions, _, err := svc.ListSecretVersions(ctx, dst, "moved", "", 25)
	if err != nil {
		t.Fatalf("ListSecretVersions: %v", err)
	}
	var gotIDs, wantIDs []string
	for _, s := range versions {
		gotIDs = append(gotIDs, s.Version)
	}
	for _, s := range want {
		wantIDs = append(wantIDs, s.Version)
	}
	slices.Sort(wantIDs)
	if !slices.Equal(gotIDs, wantIDs) {
		t.Errorf("restored versions = %q, want %q", gotIDs, wantIDs)
	}

	t.Run("ConflictLive", func(t *testing.T) {
		_, err := svc.RestoreSecret(ctx, src, blob)
		wantError(t, "RestoreSecret over a live secret", err, KindConflict, "Conflict")
	})
	t.Run("ConflictDeleted", func(t *testing.T) {
		if _, err := svc.DeleteSecret(ctx, dst, "moved"); err != nil {
			t.Fatal(err)
		}
		_, err := svc.RestoreSecret(ctx, dst, blob)
		wantError(t, "RestoreSecret over a deleted secret", err, KindConflict, "Conflict")
	})
	t.Run("AfterPurge", func(t *testing.T) {
		if err := svc.PurgeDeletedSecret(ctx, dst, "moved"); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.RestoreSecret(ctx, dst, blob); err != nil {
			t.Errorf("RestoreSecret after purge: %v", err)
		}
	})
	t.Run("SharedStore", func(t *testing.T) {
		// Another Service on the same store is the same server: it holds
		// the backup key.
		other := NewService(svc.store, svc.keys)
		third := mustVault(t, other, "third", 90, false)
		if _, err := other.RestoreSecret(ctx, third, blob); err != nil {
			t.Errorf("RestoreSecret through another Service on the same store: %v", err)
		}
	})
}

func TestRestoreRejectsForeignBlob(t *testing.T) {
	ctx := context.Background()
	localSvc, _ := newTestService(t, mustOpenStore(t), mustRootKey(t))
	foreignSvc, _ := newTestService(t, mustOpenStore(t), mustRootKey(t))
	v := mustVault(t, foreignSvc, "elsewhere", 90, false)
	mustSet(t, foreignSvc, v, "foreign", "value")
	blob, err := foreignSvc.BackupSecret(ctx, v, "foreign")
	if err != nil {
		t.Fatal(err)
	}
	local := mustVault(t, localSvc, "local", 90, false)
	_, err = localSvc.RestoreSecret(ctx, local, blob)
	wantError(t, "RestoreSecret of another server's blob", err, KindInvalid, "BadParameter")
	if _, err := localSvc.GetSecret(ctx, local, "foreign", ""); !IsKind(err, KindNotFound) {
		t.Errorf("GetSecret after the rejected restore = %v, want not found", err)
	}
}

func TestRestoreRejectsDamagedBlob(t *testing.T) {
	ctx := context.Background()
	svc, _ := newTestService(t, mustOpenStore(t), mustRootKey(t))
	src := mustVault(t, svc, "src", 90, false)
	mustSet(t, svc, src, "damaged", "value")
	blob, err := svc.BackupSecret(ctx, src, "damaged")
	if err != nil {
		t.Fatal(err)
	}
	dst := mustVault(t, svc, "dst", 90, false)

	t.Run("Truncated", func(t *testing.T) {
		for n := range len(blob) {
			_, err := svc.RestoreSecret(ctx, dst, blob[:n])
			wantError(t, "RestoreSecret of the first "+strconv.Itoa(n)+" bytes", err, KindInvalid, "BadParameter")
		}
	})
	t.Run("BitFlipped", func(t *testing.T) {
		for i := range len(blob) {
			for _, bit := range []byte{0x01, 0x80} {
				changed := bytes.Clone(blob)
				changed[i] ^= bit
				_, err := svc.RestoreSecret(ctx, dst, changed)
				wantError(t, "RestoreSecret with byte "+strconv.Itoa(i)+" changed", err, KindInvalid, "BadParameter")
			}
		}
	})
	t.Run("Extended", func(t *testing.T) {
		_, err := svc.RestoreSecret(ctx, dst, append(bytes.Clone(blob), 0))
		wantError(t, "RestoreSecret with a byte appended", err, KindInvalid, "BadParameter")
	})
	if _, err := svc.GetSecret(ctx, dst, "damaged", ""); !IsKind(err, KindNotFound) {
		t.Errorf("GetSecret after rejected restores = %v, want not found", err)
	}
	if _, err := svc.RestoreSecret(ctx, dst, blob); err != nil {
		t.Errorf("RestoreSecret of the undamaged blob: %v", err)
	}
}

// TestRestoreRejectsBadPayload seals payloads with the server's own backup
// key, so that they pass authentication and reach the content checks.
func TestRestoreRejectsBadPayload(t *testing.T) {
	ctx := context.Background()
	svc, _ := newTestService(t, mustOpenStore(t), mustRootKey(t))
	v := mustVault(t, svc, "payloads", 90, false)
	version := strings.Repeat("ab", 16)
	content, err := json.Marshal(&secretData{Value: "v", Enabled: true, Created: start.Unix(), Updated: start.Unix()})
	if err != nil {
		t.Fatal(err)
	}
	good := backupPayload{Kind: "secret", Name: "ok", Latest: version, Versions: map[string][]byte{version: content}}
	tests := []struct {
		name   string
		change func(p *backupPayload)
	}{
		{name: "KeyKind", change: func(p *backupPayload) { p.Kind = "key" }},
		{name: "NoKind", change: func(p *backupPayload) { p.Kind = "" }},
		{name: "InvalidName", change: func(p *backupPayload) { p.Name = "bad_name" }},
		{name: "EmptyName", change: func(p *backupPayload) { p.Name = "" }},
		{name: "MissingLatest", change: func(p *backupPayload) { p.Latest = strings.Repeat("cd", 16) }},
		{name: "NoVersions", change: func(p *backupPayload) { p.Versions = nil }},
		{name: "InvalidVersionID", change: func(p *backupPayload) {
			p.Versions = map[string][]byte{version: content, "../../x": content}
		}},
		{name: "UpperCaseVersionID", change: func(p *backupPayload) {
			upper := strings.ToUpper(version)
			p.Latest, p.Versions = upper, map[string][]byte{upper: content}
		}},
		{name: "UnreadableContent", change: func(p *backupPayload) { p.Versions = map[string][]byte{version: []byte("not json")} }},
		{name: "NoCreated", change: func(p *backupPayload) { p.Versions = map[string][]byte{version: []byte(`{"v":"x"}`)} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := good
			p.Versions = maps.Clone(good.Versions)
			tt.change(&p)
			blob, err := svc.sealBackup(ctx, &p)
			if err != nil {
				t.Fatal(err)
			}
			_, err = svc.RestoreSecret(ctx, v, blob)
			wantError(t, "RestoreSecret", err, KindInvalid, "BadParameter")
		})
	}
	t.Run("NotJSON", func(t *testing.T) {
		key, err := svc.loadBackupKey(ctx)
		if err != nil {
			t.Fatal(err)
		}
		blob, err := key.seal([]byte("not json"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = svc.RestoreSecret(ctx, v, blob)
		wantError(t, "RestoreSecret", err, KindInvalid, "BadParameter")
	})
	t.Run("Good", func(t *testing.T) {
		blob, err := svc.sealBackup(ctx, &good)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.RestoreSecret(ctx, v, blob); err != nil {
			t.Errorf("RestoreSecret of the unchanged payload: %v", err)
		}
	})
}

func TestCursor(t *testing.T) {
	t.Run("RoundTrip", func(t *testing.T) {
		for _, last := range []string{"a", "My-Secret", "x\x00y", strings.Repeat("z", 127), "0123456789abcdef0123456789abcdef"} {
			got, err := decodeCursor(encodeCursor(last))
			if err != nil {
				t.Errorf("decodeCursor(encodeCursor(%q)): %v", last, err)
				continue
			}
			if want := strings.ToLower(last); got != want {
				t.Errorf("decodeCursor(encodeCursor(%q)) = %q, want %q", last, got, want)
			}
		}
	})
	t.Run("Empty", func(t *testing.T) {
		if got, err := decodeCursor(""); got != "" || err != nil {
			t.Errorf("decodeCursor(\"\") = %q, %v, want \"\", nil", got, err)
		}
	})
	invalid := []struct {
		name   string
		cursor string
	}{
		{name: "NotBase64", cursor: "!!!"},
		{name: "Padded", cursor: base64.URLEncoding.EncodeToString([]byte("1:abc"))},
		{name: "StdAlphabet", cursor: base64.RawStdEncoding.EncodeToString([]byte("1:\xfb\xff"))},
		{name: "NoPrefix", cursor: base64.RawURLEncoding.EncodeToString([]byte("abc"))},
		{name: "OtherFormat", cursor: base64.RawURLEncoding.EncodeToString([]byte("2:abc"))},
		{name: "PrefixOnly", cursor: base64.RawURLEncoding.EncodeToString([]byte("1:"))},
		{name: "TooShort", cursor: base64.RawURLEncoding.EncodeToString([]byte("1"))},
		{name: "Whitespace", cursor: " " + encodeCursor("abc")},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeCursor(tt.cursor)
			wantError(t, "decodeCursor("+strconv.Quote(tt.cursor)+") = "+strconv.Quote(got), err, KindInvalid, "BadParameter")
		})
	}
}

func TestListPaging(t *testing.T) {
	ctx := context.Background()
	svc, _ := newTestService(t, mustOpenStore(t), mustRootKey(t))
	v := mustVault(t, svc, "paging", 90, false)
	other := mustVault(t, svc, "paging2", 90, false)
	names := []string{"Alpha", "bravo", "Charlie", "delta", "Echo", "foxtrot", "golf"}
	for _, name := range names {
		mustSet(t, svc, v, name, "value")
	}
	mustSet(t, svc, other, "aaa-other-vault", "value")

	for _, size := range []int{1, 3, 7, 25} {
		t.Run("Size"+strconv.Itoa(size), func(t *testing.T) {
			var got []string
			cursor := ""
			for page := 0; ; page++ {
				if page > len(names) {
					t.Fatalf("more than %d pages: the cursor does not advance", len(names))
				}
				items, next, err := svc.ListSecrets(ctx, v, cursor, size)
				if err != nil {
					t.Fatalf("ListSecrets page %d: %v", page, err)
				}
				if len(items) > size {
					t.Errorf("page %d has %d items, want at most %d", page, len(items), size)
				}
				if next != "" && len(items) != size {
					t.Errorf("page %d has %d items and a next cursor, want a full page of %d", page, len(items), size)
				}
				for _, s := range items {
					got = append(got, s.Name)
					if s.Value != "" {
						t.Errorf("list item %s carries its value", s.Name)
					}
				}
				if next == "" {
					break
				}
				cursor = next
			}
			if !slices.Equal(got, names) {
				t.Errorf("names over all pages = %q, want %q", got, names)
			}
		})
	}

	t.Run("Versions", func(t *testing.T) {
		var want []string
		for i := range 5 {
			want = append(want, mustSet(t, svc, v, "versioned", strconv.Itoa(i)).Version)
		}
		slices.Sort(want)
		var got []string
		cursor := ""
		for page := 0; page <= len(want); page++ {
			items, next, err := svc.ListSecretVersions(ctx, v, "versioned", cursor, 2)
			if err != nil {
				t.Fatalf("ListSecretVersions: %v", err)
			}
			for _, s := range items {
				got = append(got, s.Version)
			}
			if next == "" {
				break
			}
			cursor = next
		}
		if !slices.Equal(got, want) {
			t.Errorf("versions over all pages = %q, want %q", got, want)
		}
	})
	t.Run("InvalidCursor", func(t *testing.T) {
		_, _, err := svc.ListSecrets(ctx, v, "%%%", 3)
		wantError(t, "ListSecrets with an invalid cursor", err, KindInvalid, "BadParameter")
		_, _, err = svc.ListSecretVersions(ctx, v, "alpha", "%%%", 3)
		wantError(t, "ListSecretVersions with an invalid cursor", err, KindInvalid, "BadParameter")
		_, _, err = svc.ListDeletedSecrets(ctx, v, "%%%", 3)
		wantError(t, "ListDeletedSecrets with an invalid cursor", err, KindInvalid, "BadParameter")
	})
	t.Run("CursorPastEnd", func(t *testing.T) {
		items, next, err := svc.ListSecrets(ctx, v, encodeCursor("zzz"), 3)
		if err != nil || len(items) != 0 || next != "" {
			t.Errorf("ListSecrets after the last name = %d items, next %q, %v, want none", len(items), next, err)
		}
	})
}

// scanKeys returns the keys of bucket that start with prefix.
func scanKeys(t *testing.T, s storage.Store, bucket, prefix string) []string {
	t.Helper()
	var keys []string
	err := s.View(context.Background(), func(tx storage.Tx) error {
		return tx.Scan(bucket, []byte(prefix), nil, func(k, _ []byte) (bool, error) {
			keys = append(keys, string(k))
			return true, nil
		})
	})
	if err != nil {
		t.Fatalf("scan %s: %v", bucket, err)
	}
	return keys
}

// FuzzBackupBlob checks that RestoreSecret never panics on arbitrary blobs
// and succeeds only on a blob that BackupSecret made.
func FuzzBackupBlob(f *testing.F) {
	ctx := context.Background()
	svc, _ := newTestService(f, mustOpenStore(f), mustRootKey(f))
	src := mustVault(f, svc, "fuzzsource", 90, false)
	dst := mustVault(f, svc, "fuzztarget", 90, false)
	var genuine [][]byte
	for _, name := range []string{"one", "two"} {
		mustSet(f, svc, src, name, "value of "+name)
		mustSet(f, svc, src, name, "second value of "+name)
		blob, err := svc.BackupSecret(ctx, src, name)
		if err != nil {
			f.Fatal(err)
		}
		genuine = append(genuine, blob)
	}

	for _, blob := range genuine {
		f.Add(blob)
		f.Add(blob[:len(blob)-1])
		f.Add(append(bytes.Clone(blob), 0))
		flipped := bytes.Clone(blob)
		flipped[len(flipped)/2] ^= 1
		f.Add(flipped)
		header := bytes.Clone(blob)
		header[len(backupMagic)+1] = 0
		f.Add(header)
	}
	f.Add([]byte{})
	f.Add([]byte(backupMagic))
	f.Add([]byte(backupMagic + "\x01\xff"))
	f.Add([]byte(backupMagic + "\x01\x00" + strings.Repeat("\x00", 28)))

	f.Fuzz(func(t *testing.T, blob []byte) {
		restored, err := svc.RestoreSecret(ctx, dst, blob)
		if err != nil {
			wantError(t, "RestoreSecret", err, KindInvalid, "BadParameter")
			return
		}
		if !slices.ContainsFunc(genuine, func(g []byte) bool { return bytes.Equal(g, blob) }) {
			t.Fatalf("RestoreSecret accepted a blob BackupSecret did not make: %x", blob)
		}
		// Free the name again for the next input.
		if _, err := svc.DeleteSecret(ctx, dst, restored.Name); err != nil {
			t.Fatal(err)
		}
		if err := svc.PurgeDeletedSecret(ctx, dst, restored.Name); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzDecodeCursor checks that decodeCursor never panics, rejects input with
// BadParameter, and that what it accepts encodes back to the same name.
func FuzzDecodeCursor(f *testing.F) {
	for _, seed := range []string{"", encodeCursor("a"), encodeCursor("My-Secret"), "!!!", "MQ", "MTo", "MTph", "MTphYmM=", "MjphYmM"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, cursor string) {
		got, err := decodeCursor(cursor)
		if err != nil {
			wantError(t, "decodeCursor", err, KindInvalid, "BadParameter")
			if got != "" {
				t.Errorf("decodeCursor returned %q with an error", got)
			}
			return
		}
		if cursor == "" {
			if got != "" {
				t.Errorf("decodeCursor(\"\") = %q, want \"\"", got)
			}
			return
		}
		raw, rawErr := base64.RawURLEncoding.DecodeString(cursor)
		if rawErr != nil || string(raw) != "1:"+got {
			t.Errorf("decodeCursor(%q) = %q, but the cursor decodes to %q, %v", cursor, got, raw, rawErr)
		}
		if got == "" {
			t.Errorf("decodeCursor(%q) accepted an empty name", cursor)
		}
		again, err := decodeCursor(encodeCursor(got))
		if err != nil || again != strings.ToLower(got) {
			t.Errorf("decodeCursor(encodeCursor(%q)) = %q, %v, want %q", got, again, err, strings.ToLower(got))
		}
	})
}

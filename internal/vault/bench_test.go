package vault_test

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/keyvault/keyvault/internal/seal"
	"github.com/keyvault/keyvault/internal/storage/bolt"
	"github.com/keyvault/keyvault/internal/vault"
)

// benchWriters is the number of concurrent callers in the parallel
// benchmarks: kvbench's default number of connections, so that group commit
// batches writes as it does under that load.
const benchWriters = 32

// openBenchVault returns a vault service on a bbolt store in a temporary
// directory, sealed by a random root key, and its vault "bench".
func openBenchVault(b *testing.B) (*vault.Service, *vault.Vault) {
	b.Helper()
	store, err := bolt.Open(filepath.Join(b.TempDir(), "keyvault.db"), bolt.Options{})
	if err != nil {
		b.Fatalf("open store: %v", err)
	}
	b.Cleanup(func() {
		if err := store.Close(); err != nil {
			b.Errorf("close store: %v", err)
		}
	})
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	root, err := seal.NewFileRootKey(raw)
	if err != nil {
		b.Fatalf("root key: %v", err)
	}
	svc := vault.NewService(store, seal.NewKeyring(store, root))
	v, err := svc.EnsureVault(context.Background(), vault.Vault{Name: "bench", RetentionDays: vault.DefaultRetentionDays})
	if err != nil {
		b.Fatalf("create vault: %v", err)
	}
	return svc, v
}

// runParallelCallers runs fn b.N times in total on benchWriters goroutines.
func runParallelCallers(b *testing.B, fn func(pb *testing.PB)) {
	b.Helper()
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((benchWriters + procs - 1) / procs)
	b.RunParallel(fn)
}

// BenchmarkSetSecret writes a new secret per operation, each committed
// durably: "serial" pays one fsync per write, "parallel" shares fsyncs
// through group commit.
func BenchmarkSetSecret(b *testing.B) {
	ctx := context.Background()

	b.Run("serial", func(b *testing.B) {
		svc, v := openBenchVault(b)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			name := "s-" + strconv.Itoa(i)
			if _, err := svc.SetSecret(ctx, v, name, vault.SecretParams{Value: name}); err != nil {
				b.Fatalf("set %s: %v", name, err)
			}
		}
	})

	b.Run("parallel", func(b *testing.B) {
		svc, v := openBenchVault(b)
		var n atomic.Int64
		b.ReportAllocs()
		b.ResetTimer()
		runParallelCallers(b, func(pb *testing.PB) {
			for pb.Next() {
				name := "s-" + strconv.FormatInt(n.Add(1), 10)
				if _, err := svc.SetSecret(ctx, v, name, vault.SecretParams{Value: name}); err != nil {
					b.Errorf("set %s: %v", name, err)
					return
				}
			}
		})
	})
}

// BenchmarkGetSecret reads the latest version of 1,000 stored secrets in
// turn, and checks each value.
func BenchmarkGetSecret(b *testing.B) {
	ctx := context.Background()
	svc, v := openBenchVault(b)
	names := make([]string, 1000)
	for i := range names {
		names[i] = "s-" + strconv.Itoa(i)
	}
	setAll(b, svc, v, names)

	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			name := names[i%len(names)]
			i++
			sec, err := svc.GetSecret(ctx, v, name, "")
			if err != nil {
				b.Fatalf("get %s: %v", name, err)
			}
			if sec.Value != name {
				b.Fatalf("get %s: got value %q, want %q", name, sec.Value, name)
			}
		}
	})

	b.Run("parallel", func(b *testing.B) {
		var n atomic.Int64
		b.ReportAllocs()
		b.ResetTimer()
		runParallelCallers(b, func(pb *testing.PB) {
			for pb.Next() {
				name := names[int(n.Add(1))%len(names)]
				sec, err := svc.GetSecret(ctx, v, name, "")
				if err != nil {
					b.Errorf("get %s: %v", name, err)
					return
				}
				if sec.Value != name {
					b.Errorf("get %s: got value %q, want %q", name, sec.Value, name)
					return
				}
			}
		})
	})
}

// setAll writes every name with its name as the value, from benchWriters
// goroutines so that the writes share commits.
func setAll(b *testing.B, svc *vault.Service, v *vault.Vault, names []string) {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, benchWriters)
	for range benchWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < len(names); i = int(next.Add(1)) - 1 {
				if _, err := svc.SetSecret(context.Background(), v, names[i], vault.SecretParams{Value: names[i]}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatalf("write the secrets to read: %v", err)
	}
}

package bolt_test

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyvault/keyvault/internal/storage"
	"github.com/keyvault/keyvault/internal/storage/bolt"
	"github.com/keyvault/keyvault/internal/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		return mustOpen(t, filepath.Join(t.TempDir(), "store.db"))
	})
}

// mustOpen opens the store at path and closes it when the test ends.
func mustOpen(t *testing.T, path string) *bolt.Store {
	t.Helper()
	s, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	err = s.Update(context.Background(), func(tx storage.Tx) error {
		return tx.Put("b", []byte("k"), []byte("v"))
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = mustOpen(t, path)
	if got := get(t, s, "b", "k"); string(got) != "v" {
		t.Errorf("Get after reopen = %q, want %q", got, "v")
	}
}

func TestCloseCommitsQueuedUpdates(t *testing.T) {
	const workers = 64
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}

	// The first Update keeps the commit loop busy while the others queue
	// and Close is called, so Close finds them waiting.
	running, release := make(chan struct{}), make(chan struct{})
	results := make([]error, workers+1)
	var wg sync.WaitGroup
	wg.Go(func() {
		results[workers] = s.Update(context.Background(), func(tx storage.Tx) error {
			select {
			case <-running:
			default:
				close(running)
			}
			<-release
			return tx.Put("b", []byte("first"), []byte("v"))
		})
	})
	<-running
	for i := range workers {
		wg.Go(func() {
			results[i] = s.Update(context.Background(), func(tx storage.Tx) error {
				return tx.Put("b", []byte("w"+strconv.Itoa(i)), []byte("v"))
			})
		})
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	close(release)
	wg.Wait()
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = mustOpen(t, path)
	if results[workers] != nil {
		t.Errorf("first Update = %v, want nil", results[workers])
	}
	if got := get(t, s, "b", "first"); string(got) != "v" {
		t.Errorf("write of the first Update = %q, want %q", got, "v")
	}
	committed := 0
	for i := range workers {
		got := get(t, s, "b", "w"+strconv.Itoa(i))
		switch {
		case results[i] == nil:
			committed++
			if string(got) != "v" {
				t.Errorf("Update %d returned nil but its write is %q after reopen, want %q", i, got, "v")
			}
		case errors.Is(results[i], storage.ErrClosed):
			if got != nil {
				t.Errorf("Update %d returned ErrClosed but its write %q is present", i, got)
			}
		default:
			t.Errorf("Update %d = %v, want nil or %v", i, results[i], storage.ErrClosed)
		}
	}
	t.Logf("%d of %d updates committed during Close", committed, workers)
}

func TestSecondOpenFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	first := mustOpen(t, path)

	second, err := bolt.Open(path, bolt.Options{LockTimeout: 50 * time.Millisecond})
	if err == nil {
		second.Close()
		t.Fatal("second Open of the same file: got nil error, want an error")
	}
	if !strings.Contains(err.Error(), "locked by another process") {
		t.Errorf("second Open error = %q, want it to say the file is locked by another process", err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("second Open error = %q, want it to name %s", err, path)
	}

	err = first.Update(context.Background(), func(tx storage.Tx) error {
		return tx.Put("b", []byte("k"), []byte("v"))
	})
	if err != nil {
		t.Errorf("Update on the first store after the failed Open: %v", err)
	}
}

func get(t *testing.T, s storage.Store, bucket, key string) []byte {
	t.Helper()
	var got []byte
	err := s.View(context.Background(), func(tx storage.Tx) error {
		var err error
		got, err = tx.Get(bucket, []byte(key))
		return err
	})
	if err != nil {
		t.Fatalf("Get(%s, %s): %v", bucket, key, err)
	}
	return got
}

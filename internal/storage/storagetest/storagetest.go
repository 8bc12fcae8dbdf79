// Package storagetest is the conformance suite of storage.Store. Every
// implementation runs [Run] from its own tests, so the layers above can rely
// on the same behaviour from each of them.
package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/keyvault/keyvault/internal/storage"
)

// hangTimeout bounds the wait for a call that should return. It detects a
// deadlock and is no measure of speed: a healthy store returns in far less.
const hangTimeout = 30 * time.Second

// Run runs the conformance suite. open must return a new, empty store for
// each call. The suite closes some stores itself, so open's cleanup must
// accept a store that is already closed.
func Run(t *testing.T, open func(t *testing.T) storage.Store) {
	t.Run("Get", func(t *testing.T) { testGet(t, open) })
	t.Run("Copies", func(t *testing.T) { testCopies(t, open) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, open) })
	t.Run("Scan", func(t *testing.T) { testScan(t, open) })
	t.Run("Update", func(t *testing.T) { testUpdate(t, open) })
	t.Run("Concurrency", func(t *testing.T) { testConcurrency(t, open) })
	t.Run("Close", func(t *testing.T) { testClose(t, open) })
}

func testGet(t *testing.T, open func(t *testing.T) storage.Store) {
	t.Run("MissingBucket", func(t *testing.T) {
		s := open(t)
		if got := mustGet(t, s, "nobucket", []byte("k")); got != nil {
			t.Errorf("Get(missing bucket) = %q, want nil", got)
		}
	})
	t.Run("MissingKey", func(t *testing.T) {
		s := open(t)
		mustPut(t, s, "b", []byte("k"), []byte("v"))
		if got := mustGet(t, s, "b", []byte("other")); got != nil {
			t.Errorf("Get(missing key) = %q, want nil", got)
		}
	})
	t.Run("RoundTrip", func(t *testing.T) {
		s := open(t)
		value := []byte{0, 1, 2, 0xff, 'v'}
		mustPut(t, s, "b", []byte("k"), value)
		if got := mustGet(t, s, "b", []byte("k")); !bytes.Equal(got, value) {
			t.Errorf("Get = %q, want %q", got, value)
		}
	})
	t.Run("Overwrite", func(t *testing.T) {
		s := open(t)
		mustPut(t, s, "b", []byte("k"), []byte("first"))
		mustPut(t, s, "b", []byte("k"), []byte("second"))
		if got := mustGet(t, s, "b", []byte("k")); string(got) != "second" {
			t.Errorf("Get = %q, want %q", got, "second")
		}
	})
	t.Run("EmptyValue", func(t *testing.T) {
		s := open(t)
		mustPut(t, s, "b", []byte("k"), []byte{})
		got := mustGet(t, s, "b", []byte("k"))
		if got == nil || len(got) != 0 {
			t.Errorf("Get of an empty value = %#v, want a non-nil empty slice", got)
		}
	})
	t.Run("BucketsSeparate", func(t *testing.T) {
		s := open(t)
		mustPut(t, s, "b1", []byte("k"), []byte("one"))
		mustPut(t, s, "b2", []byte("k"), []byte("two"))
		if got := mustGet(t, s, "b1", []byte("k")); string(got) != "one" {
			t.Errorf("Get(b1) = %q, want %q", got, "one")
		}
		if got := mustGet(t, s, "b2", []byte("k")); string(got) != "two" {
			t.Errorf("Get(b2) = %q, want %q", got, "two")
		}
	})
	t.Run("PutInView", func(t *testing.T) {
		s := open(t)
		err := s.View(context.Background(), func(tx storage.Tx) error {
			return tx.Put("b", []byte("k"), []byte("v"))
		})
		if err == nil {
			t.Error("Put in View: got nil error, want an error")
		}
		if got := mustGet(t, s, "b", []byte("k")); got != nil {
			t.Errorf("Get after Put in View = %q, want nil", got)
		}
	})
}

func testCopies(t *testing.T, open func(t *testing.T) storage.Store) {
	t.Run("PassedSlices", func(t *testing.T) {
		s := open(t)
		key, value := []byte("key"), []byte("value")
		err := s.Update(context.Background(), func(tx storage.Tx) error {
			if err := tx.Put("b", key, value); err != nil {
				return err
			}
			// Changed before the commit, so a store that kept the
			// caller's slices would write the changed bytes.
			key[0], value[0] = 'X', 'X'
			return nil
		})
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
		if got := mustGet(t, s, "b", []byte("key")); string(got) != "value" {
			t.Errorf("Get(key) = %q, want %q", got, "value")
		}
		if got := mustGet(t, s, "b", []byte("Xey")); got != nil {
			t.Errorf("Get(changed key) = %q, want nil", got)
		}
	})
	t.Run("ReturnedSlice", func(t *testing.T) {
		s := open(t)
		mustPut(t, s, "b", []byte("k"), []byte("value"))
		got := mustGet(t, s, "b", []byte("k"))
		got[0] = 'X'
		if got := mustGet(t, s, "b", []byte("k")); string(got) != "value" {
			t.Errorf("Get after changing a returned value = %q, want %q", got, "value")
		}
	})
	t.Run("ReturnedSliceInUpdate", func(t *testing.T) {
		s := open(t)
		err := s.Update(context.Background(), func(tx storage.Tx) error {
			if err := tx.Put("b", []byte("k"), []byte("value")); err != nil {
				return err
			}
			got, err := tx.Get("b", []byte("k"))
			if err != nil {
				return err
			}
			got[0] = 'X'
			if again, err := tx.Get("b", []byte("k")); err != nil || string(again) != "value" {
				t.Errorf("second Get in the same Update = %q, %v, want %q", again, err, "value")
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
		if got := mustGet(t, s, "b", []byte("k")); string(got) != "value" {
			t.Errorf("Get after commit = %q, want %q", got, "value")
		}
	})
}

func testDelete(t *testing.T, open func(t *testing.T) storage.Store) {
	t.Run("Existing", func(t *testing.T) {
		s := open(t)
		mustPut(t, s, "b", []byte("k"), []byte("v"))
		mustPut(t, s, "b", []byte("k2"), []byte("v2"))
		mustUpdate(t, s, func(tx storage.Tx) error { return tx.Delete("b", []byte("k")) })
		if got := mustGet(t, s, "b", []byte("k")); got != nil {
			t.Errorf("Get after Delete = %q, want nil", got)
		}
		if got := mustGet(t, s, "b", []byte("k2")); string(got) != "v2" {
			t.Errorf("Get(other key) after Delete = %q, want %q", got, "v2")
		}
	})
	t.Run("MissingKey", func(t *testing.T) {
		s := open(t)
		mustPut(t, s, "b", []byte("k"), []byte("v"))
		mustUpdate(t, s, func(tx storage.Tx) error { return tx.Delete("b", []byte("missing")) })
	})
	t.Run("MissingBucket", func(t *testing.T) {
		s := open(t)
		mustUpdate(t, s, func(tx storage.Tx) error { return tx.Delete("nobucket", []byte("k")) })
	})
	t.Run("PutAgain", func(t *testing.T) {
		s := open(t)
		mustPut(t, s, "b", []byte("k"), []byte("v1"))
		mustUpdate(t, s, func(tx storage.Tx) error { return tx.Delete("b", []byte("k")) })
		mustPut(t, s, "b", []byte("k"), []byte("v2"))
		if got := mustGet(t, s, "b", []byte("k")); string(got) != "v2" {
			t.Errorf("Get = %q, want %q", got, "v2")
		}
	})
}

// scanKeys are stored in this order of insertion, which is not byte order.
// Byte order puts "abc" before "ab\xff" because 'c' is 0x63.
var scanKeys = []string{"b", "ab", "a", "abc", "ac", "a\x00", "ab\x00", "ab\xff", "\xff", "aa"}

func testScan(t *testing.T, open func(t *testing.T) storage.Store) {
	s := open(t)
	for _, k := range scanKeys {
		mustPut(t, s, "scan", []byte(k), []byte("v:"+k))
	}
	mustPut(t, s, "other", []byte("ab"), []byte("other bucket"))

	tests := []struct {
		name   string
		prefix string
		after  *string
		want   []string
	}{
		{name: "All", want: []string{"a", "a\x00", "aa", "ab", "ab\x00", "abc", "ab\xff", "ac", "b", "\xff"}},
		{name: "Prefix", prefix: "ab", want: []string{"ab", "ab\x00", "abc", "ab\xff"}},
		{name: "PrefixNoMatch", prefix: "zz", want: nil},
		{name: "PrefixLongerThanKeys", prefix: "abcd", want: nil},
		{name: "AfterEqualKey", prefix: "ab", after: ptr("ab"), want: []string{"ab\x00", "abc", "ab\xff"}},
		{name: "AfterBetweenKeys", prefix: "ab", after: ptr("ab\x01"), want: []string{"abc", "ab\xff"}},
		{name: "AfterBeforePrefix", prefix: "ab", after: ptr("aa"), want: []string{"ab", "ab\x00", "abc", "ab\xff"}},
		{name: "AfterEmpty", prefix: "ab", after: ptr(""), want: []string{"ab", "ab\x00", "abc", "ab\xff"}},
		{name: "AfterKeyInPrefix", prefix: "ab", after: ptr("abc"), want: []string{"ab\xff"}},
		{name: "AfterLastKey", prefix: "ab", after: ptr("ab\xff"), want: nil},
		{name: "AfterPastPrefix", prefix: "ab", after: ptr("b"), want: nil},
		{name: "AfterPastEnd", after: ptr("\xff\xff"), want: nil},
		{name: "AfterNoPrefix", after: ptr("ac"), want: []string{"b", "\xff"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var after []byte
			if tt.after != nil {
				after = []byte(*tt.after)
			}
			got := scanAll(t, s, "scan", []byte(tt.prefix), after)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Scan(prefix %q, after %s) = %q, want %q", tt.prefix, quoteOrNil(tt.after), got, tt.want)
			}
		})
	}

	t.Run("Values", func(t *testing.T) {
		err := s.View(context.Background(), func(tx storage.Tx) error {
			return tx.Scan("scan", []byte("ab"), nil, func(k, v []byte) (bool, error) {
				if want := "v:" + string(k); string(v) != want {
					t.Errorf("value of %q = %q, want %q", k, v, want)
				}
				return true, nil
			})
		})
		if err != nil {
			t.Fatalf("Scan: %v", err)
		}
	})
	t.Run("MissingBucket", func(t *testing.T) {
		if got := scanAll(t, s, "nobucket", nil, nil); len(got) != 0 {
			t.Errorf("Scan(missing bucket) = %q, want no keys", got)
		}
	})
	t.Run("EarlyStop", func(t *testing.T) {
		var got []string
		err := s.View(context.Background(), func(tx storage.Tx) error {
			return tx.Scan("scan", nil, nil, func(k, _ []byte) (bool, error) {
				got = append(got, string(k))
				return len(got) < 2, nil
			})
		})
		if err != nil {
			t.Fatalf("Scan: %v", err)
		}
		if want := []string{"a", "a\x00"}; !slices.Equal(got, want) {
			t.Errorf("keys seen = %q, want %q", got, want)
		}
	})
	t.Run("FnError", func(t *testing.T) {
		errStop := errors.New("stop here")
		calls := 0
		err := s.View(context.Background(), func(tx storage.Tx) error {
			return tx.Scan("scan", nil, nil, func(k, _ []byte) (bool, error) {
				calls++
				return true, errStop
			})
		})
		if !errors.Is(err, errStop) {
			t.Errorf("Scan error = %v, want %v", err, errStop)
		}
		if calls != 1 {
			t.Errorf("fn called %d times, want 1", calls)
		}
	})
	t.Run("OwnWrites", func(t *testing.T) {
		s := open(t)
		mustPut(t, s, "b", []byte("k1"), []byte("v1"))
		mustPut(t, s, "b", []byte("k3"), []byte("v3"))
		var got []string
		mustUpdate(t, s, func(tx storage.Tx) error {
			got = nil
			if err := tx.Put("b", []byte("k2"), []byte("v2")); err != nil {
				return err
			}
			if err := tx.Delete("b", []byte("k3")); err != nil {
				return err
			}
			if err := tx.Put("b", []byte("k4"), []byte("v4")); err != nil {
				return err
			}
			return tx.Scan("b", []byte("k"), nil, func(k, _ []byte) (bool, error) {
				got = append(got, string(k))
				return true, nil
			})
		})
		if want := []string{"k1", "k2", "k4"}; !slices.Equal(got, want) {
			t.Errorf("Scan in Update = %q, want %q", got, want)
		}
	})
	t.Run("NewBucketInUpdate", func(t *testing.T) {
		s := open(t)
		var got []string
		mustUpdate(t, s, func(tx storage.Tx) error {
			got = nil
			if err := tx.Put("fresh", []byte("k"), []byte("v")); err != nil {
				return err
			}
			return tx.Scan("fresh", nil, nil, func(k, _ []byte) (bool, error) {
				got = append(got, string(k))
				return true, nil
			})
		})
		if want := []string{"k"}; !slices.Equal(got, want) {
			t.Errorf("Scan of a bucket made in the same Update = %q, want %q", got, want)
		}
	})
}

func testUpdate(t *testing.T, open func(t *testing.T) storage.Store) {
	t.Run("ErrorRollsBack", func(t *testing.T) {
		s := open(t)
		mustPut(t, s, "b", []byte("keep"), []byte("old"))
		mustPut(t, s, "b", []byte("gone"), []byte("old"))
		want := fmt.Errorf("wrapped: %w", errSentinel)
		err := s.Update(context.Background(), func(tx storage.Tx) error {
			for _, op := range []func() error{
				func() error { return tx.Put("b", []byte("keep"), []byte("new")) },
				func() error { return tx.Delete("b", []byte("gone")) },
				func() error { return tx.Put("b", []byte("added"), []byte("new")) },
				func() error { return tx.Put("newbucket", []byte("k"), []byte("new")) },
			} {
				if err := op(); err != nil {
					return err
				}
			}
			return want
		})
		if err != want {
			t.Errorf("Update error = %v, want the error fn returned, unchanged", err)
		}
		if !errors.Is(err, errSentinel) {
			t.Errorf("errors.Is(%v, errSentinel) = false, want true", err)
		}
		checks := []struct {
			bucket, key string
			want        []byte
		}{
			{bucket: "b", key: "keep", want: []byte("old")},
			{bucket: "b", key: "gone", want: []byte("old")},
			{bucket: "b", key: "added", want: nil},
			{bucket: "newbucket", key: "k", want: nil},
		}
		for _, c := range checks {
			if got := mustGet(t, s, c.bucket, []byte(c.key)); !bytes.Equal(got, c.want) {
				t.Errorf("Get(%s, %s) after failed Update = %q, want %q", c.bucket, c.key, got, c.want)
			}
		}
	})
	t.Run("Panic", func(t *testing.T) {
		s := open(t)
		err := s.Update(context.Background(), func(tx storage.Tx) error {
			if err := tx.Put("b", []byte("k"), []byte("v")); err != nil {
				return err
			}
			panic("fn panicked on purpose")
		})
		if err == nil {
			t.Fatal("Update with a panicking fn: got nil error, want an error")
		}
		if got := mustGet(t, s, "b", []byte("k")); got != nil {
			t.Errorf("Get after panicking Update = %q, want nil", got)
		}
		mustPut(t, s, "b", []byte("after"), []byte("v"))
		if got := mustGet(t, s, "b", []byte("after")); string(got) != "v" {
			t.Errorf("Get after a later Update = %q, want %q", got, "v")
		}
	})
	t.Run("ReadsCommitted", func(t *testing.T) {
		s := open(t)
		mustPut(t, s, "b", []byte("k"), []byte("v1"))
		var got []byte
		mustUpdate(t, s, func(tx storage.Tx) error {
			var err error
			got, err = tx.Get("b", []byte("k"))
			return err
		})
		if string(got) != "v1" {
			t.Errorf("Get in Update = %q, want %q", got, "v1")
		}
	})
}

var errSentinel = errors.New("storagetest: fn failed on purpose")

func testConcurrency(t *testing.T, open func(t *testing.T) storage.Store) {
	t.Run("Increments", func(t *testing.T) {
		const workers, perWorker = 64, 50
		s := open(t)
		var wg sync.WaitGroup
		errs := make(chan error, workers*perWorker)
		for range workers {
			wg.Go(func() {
				for range perWorker {
					errs <- s.Update(context.Background(), increment("counter"))
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("Update: %v", err)
			}
		}
		if got, want := readCounter(t, s, "counter"), workers*perWorker; got != want {
			t.Errorf("counter = %d, want %d (lost updates)", got, want)
		}
	})
	t.Run("OneFails", func(t *testing.T) {
		const workers = 64
		const failing = workers / 2
		s := open(t)

		// The first Update holds the store busy until every worker has
		// started, so that most of the workers queue up together. Its fn
		// may run again when it shares a group with the failing one.
		var started sync.WaitGroup
		started.Add(workers)
		allStarted := make(chan struct{})
		go func() { started.Wait(); close(allStarted) }()
		firstDone := make(chan error, 1)
		go func() {
			firstDone <- s.Update(context.Background(), func(tx storage.Tx) error {
				<-allStarted
				return tx.Put("b", []byte("first"), []byte("v"))
			})
		}()

		results := make([]error, workers)
		var wg sync.WaitGroup
		for i := range workers {
			wg.Go(func() {
				started.Done()
				results[i] = s.Update(context.Background(), func(tx storage.Tx) error {
					if err := increment("counter")(tx); err != nil {
						return err
					}
					if err := tx.Put("b", []byte("w"+strconv.Itoa(i)), []byte("v")); err != nil {
						return err
					}
					if i == failing {
						return errSentinel
					}
					return nil
				})
			})
		}
		wg.Wait()
		if err := <-firstDone; err != nil {
			t.Fatalf("first Update: %v", err)
		}

		for i, err := range results {
			if i == failing {
				if !errors.Is(err, errSentinel) {
					t.Errorf("failing Update returned %v, want %v", err, errSentinel)
				}
				continue
			}
			if err != nil {
				t.Errorf("Update %d returned %v, want nil", i, err)
			}
		}
		for i := range workers {
			got := mustGet(t, s, "b", []byte("w"+strconv.Itoa(i)))
			if i == failing && got != nil {
				t.Errorf("write of the failing Update is present: %q", got)
			}
			if i != failing && string(got) != "v" {
				t.Errorf("write of Update %d = %q, want %q", i, got, "v")
			}
		}
		if got, want := readCounter(t, s, "counter"), workers-1; got != want {
			t.Errorf("counter = %d, want %d", got, want)
		}
	})
}

// increment returns an Update function that adds one to a decimal counter,
// reading and writing it in the same transaction.
func increment(key string) func(storage.Tx) error {
	return func(tx storage.Tx) error {
		raw, err := tx.Get("counters", []byte(key))
		if err != nil {
			return err
		}
		n := 0
		if raw != nil {
			if n, err = strconv.Atoi(string(raw)); err != nil {
				return err
			}
		}
		return tx.Put("counters", []byte(key), []byte(strconv.Itoa(n+1)))
	}
}

func readCounter(t *testing.T, s storage.Store, key string) int {
	t.Helper()
	raw := mustGet(t, s, "counters", []byte(key))
	n, err := strconv.Atoi(string(raw))
	if err != nil {
		t.Fatalf("counter %s = %q: %v", key, raw, err)
	}
	return n
}

func testClose(t *testing.T, open func(t *testing.T) storage.Store) {
	t.Run("ViewAfterClose", func(t *testing.T) {
		s := open(t)
		mustPut(t, s, "b", []byte("k"), []byte("v"))
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		called := false
		err := s.View(context.Background(), func(storage.Tx) error { called = true; return nil })
		if !errors.Is(err, storage.ErrClosed) {
			t.Errorf("View after Close = %v, want %v", err, storage.ErrClosed)
		}
		if called {
			t.Error("View after Close called fn")
		}
	})
	t.Run("UpdateAfterClose", func(t *testing.T) {
		s := open(t)
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		// The call is repeated because a store that selects at random
		// between its closed signal and a free queue slot fails only some
		// of the calls.
		for i := range 200 {
			called := false
			err := waitErr(t, "Update after Close", func() error {
				return s.Update(context.Background(), func(storage.Tx) error { called = true; return nil })
			})
			if !errors.Is(err, storage.ErrClosed) {
				t.Fatalf("Update %d after Close = %v, want %v", i, err, storage.ErrClosed)
			}
			if called {
				t.Fatalf("Update %d after Close called fn", i)
			}
		}
	})
	t.Run("CommitsRunningUpdate", func(t *testing.T) {
		s := open(t)
		running, release := make(chan struct{}), make(chan struct{})
		result := make(chan error, 1)
		go func() {
			result <- s.Update(context.Background(), func(tx storage.Tx) error {
				close(running)
				<-release
				return tx.Put("b", []byte("k"), []byte("v"))
			})
		}()
		<-running
		closed := make(chan error, 1)
		go func() { closed <- s.Close() }()
		close(release)
		if err := waitChan(t, "Update during Close", result); err != nil {
			t.Errorf("Update running during Close = %v, want nil", err)
		}
		if err := waitChan(t, "Close", closed); err != nil {
			t.Errorf("Close = %v, want nil", err)
		}
	})
	t.Run("UpdatesDuringClose", func(t *testing.T) {
		const workers = 32
		s := open(t)
		results := make(chan error, workers)
		for range workers {
			go func() {
				results <- s.Update(context.Background(), increment("counter"))
			}()
		}
		if err := s.Close(); err != nil {
			t.Errorf("Close = %v, want nil", err)
		}
		for range workers {
			err := waitChan(t, "Update during Close", results)
			if err != nil && !errors.Is(err, storage.ErrClosed) {
				t.Errorf("Update during Close = %v, want nil or %v", err, storage.ErrClosed)
			}
		}
	})
	t.Run("CloseTwice", func(t *testing.T) {
		s := open(t)
		if err := s.Close(); err != nil {
			t.Fatalf("first Close: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("second Close = %v, want nil", err)
		}
	})
}

// waitErr runs fn and returns its error, failing the test if fn has not
// returned within hangTimeout.
func waitErr(t *testing.T, call string, fn func() error) error {
	t.Helper()
	ch := make(chan error, 1)
	go func() { ch <- fn() }()
	return waitChan(t, call, ch)
}

func waitChan(t *testing.T, call string, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(hangTimeout):
		t.Fatalf("%s did not return within %v: the store is deadlocked", call, hangTimeout)
		return nil
	}
}

func mustUpdate(t *testing.T, s storage.Store, fn func(storage.Tx) error) {
	t.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func mustPut(t *testing.T, s storage.Store, bucket string, key, value []byte) {
	t.Helper()
	mustUpdate(t, s, func(tx storage.Tx) error { return tx.Put(bucket, key, value) })
}

func mustGet(t *testing.T, s storage.Store, bucket string, key []byte) []byte {
	t.Helper()
	var got []byte
	err := s.View(context.Background(), func(tx storage.Tx) error {
		var err error
		got, err = tx.Get(bucket, key)
		return err
	})
	if err != nil {
		t.Fatalf("Get(%s, %q): %v", bucket, key, err)
	}
	return got
}

func scanAll(t *testing.T, s storage.Store, bucket string, prefix, after []byte) []string {
	t.Helper()
	var keys []string
	err := s.View(context.Background(), func(tx storage.Tx) error {
		return tx.Scan(bucket, prefix, after, func(k, _ []byte) (bool, error) {
			keys = append(keys, string(k))
			return true, nil
		})
	})
	if err != nil {
		t.Fatalf("Scan(%s, %q, %q): %v", bucket, prefix, after, err)
	}
	return keys
}

func ptr(s string) *string { return &s }

func quoteOrNil(s *string) string {
	if s == nil {
		return "nil"
	}
	return strconv.Quote(*s)
}

package audit

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Request is the audit state of one request: the record being built, and
// whether it was already written inside a write transaction.
type Request struct {
	mu       sync.Mutex
	Record   Record
	Start    time.Time
	Write    bool // the request may change the store
	Success  int  // the status of a successful response
	appended bool
	written  Record // the record as appended inside the transaction
}

type requestKey struct{}

// WithRequest returns ctx carrying req.
func WithRequest(ctx context.Context, req *Request) context.Context {
	return context.WithValue(ctx, requestKey{}, req)
}

// FromContext returns the request state of ctx, or nil.
func FromContext(ctx context.Context) *Request {
	req, _ := ctx.Value(requestKey{}).(*Request)
	return req
}

// SetSuccessStatus records the status of the request's success response,
// where the route alone does not determine it (201 for a created vault).
func SetSuccessStatus(ctx context.Context, status int) {
	if req := FromContext(ctx); req != nil {
		req.mu.Lock()
		req.Success = status
		req.mu.Unlock()
	}
}

// SetObjectID records the URL of the object the request is about.
func SetObjectID(ctx context.Context, id string) {
	if req := FromContext(ctx); req != nil {
		req.mu.Lock()
		req.Record.Properties.ID = id
		req.mu.Unlock()
	}
}

// SetAuthorization records the outcome of the permission check: whether an
// access policy matched, or whether RBAC authorized the call.
func SetAuthorization(ctx context.Context, rbac, allowed bool) {
	if req := FromContext(ctx); req != nil {
		req.mu.Lock()
		if rbac {
			req.Record.Properties.IsRbacAuthorized = &allowed
		} else {
			req.Record.Properties.IsAccessPolicyMatch = &allowed
		}
		req.mu.Unlock()
	}
}

// finish fills the outcome fields of rec.
func (req *Request) finish(rec *Record, status int, description string) {
	rec.ResultType = "Success"
	rec.ResultSignature = http.StatusText(status)
	rec.ResultDescription = description
	rec.DurationMs = strconv.FormatInt(time.Since(req.Start).Milliseconds(), 10)
	rec.Properties.HTTPStatusCode = status
}

// AppendInTransaction writes the request's record, as a success, the first
// time a write transaction of the request is about to commit. Logger.Sync,
// run before the commit, makes it durable, so no write is applied without
// its record.
func (req *Request) AppendInTransaction(l *Logger) error {
	req.mu.Lock()
	defer req.mu.Unlock()
	if req.appended {
		return nil
	}
	rec := req.Record
	req.finish(&rec, req.Success, "")
	if err := l.Append(&rec, false); err != nil {
		return err
	}
	req.appended, req.written = true, rec
	return nil
}

// Complete writes the request's final record once the response status is
// known. A request whose record was written in its transaction gets no
// second record, unless its outcome differs from the one recorded there.
func (req *Request) Complete(l *Logger, status int, description string) error {
	req.mu.Lock()
	defer req.mu.Unlock()
	if req.appended && req.written.Properties.HTTPStatusCode == status {
		return nil
	}
	rec := req.Record
	req.finish(&rec, status, description)
	if req.appended {
		rec.ResultDescription = "The operation failed after its write was recorded: " + description
	}
	err := l.Append(&rec, false)
	if err == nil {
		req.appended, req.written = true, rec
	}
	return err
}

package server

import (
	"encoding/json"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/keyvault/keyvault/internal/api"
)

// testClock is the clock of objects under --test-clock: real time plus an
// offset that only moves forward. Tokens, TLS and log timestamps keep real
// time, so clients stay signed in while object time jumps ahead.
type testClock struct {
	offset atomic.Int64 // nanoseconds
}

func (c *testClock) Now() time.Time {
	return time.Now().Add(time.Duration(c.offset.Load()))
}

// serveTestClock serves /_test/clock: GET returns the object clock, POST
// {"advanceSeconds": N} moves it forward by N seconds and runs the
// time-driven jobs that became due before answering. Only the administrator
// may use it, and only on a server started with --test-clock.
func (s *Server) serveTestClock(w http.ResponseWriter, r *http.Request) {
	if s.clock == nil {
		api.WriteErrorDetail(w, http.StatusNotFound, api.ErrorDetail{Code: "NotFound",
			Message: "The test clock is off. Start the server with --test-clock to use /_test/clock."})
		return
	}
	caller, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	if !caller.Admin {
		api.WriteErrorDetail(w, http.StatusForbidden, api.ErrorDetail{Code: "Forbidden",
			Message: "Only the administrator may move the test clock."})
		return
	}
	switch r.Method {
	case http.MethodGet:
	case http.MethodPost:
		var body struct {
			AdvanceSeconds *int64 `json:"advanceSeconds"`
		}
		r.Body = http.MaxBytesReader(w, r.Body, 4096)
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.AdvanceSeconds == nil || *body.AdvanceSeconds < 0 {
			api.WriteErrorDetail(w, http.StatusBadRequest, api.ErrorDetail{Code: "BadParameter",
				Message: `The body must be {"advanceSeconds": N} with N a whole number of seconds, 0 or more.`})
			return
		}
		s.clock.offset.Add(int64(time.Duration(*body.AdvanceSeconds) * time.Second))
		s.log.Info("test clock advanced", "advanceSeconds", *body.AdvanceSeconds, "now", s.clock.Now().UTC())
		s.vaults.RunDueJobs(r.Context(), s.log)
	default:
		w.Header().Set("Allow", "GET, POST")
		api.WriteErrorDetail(w, http.StatusMethodNotAllowed, api.ErrorDetail{Code: "MethodNotAllowed",
			Message: "Use GET or POST on /_test/clock."})
		return
	}
	now := s.clock.Now()
	body, _ := json.Marshal(map[string]int64{"now": now.Unix(), "offsetSeconds": int64(time.Duration(s.clock.offset.Load()) / time.Second)})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(body)
}

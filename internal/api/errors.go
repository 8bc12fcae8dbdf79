// Package api implements the Azure Key Vault data-plane REST API on top of
// the vault domain: wire types, request parsing, paging and Azure-shaped
// errors. Routing a request to its vault and authenticating it happen before,
// in the server package.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/keyvault/keyvault/internal/audit"
	"github.com/keyvault/keyvault/internal/vault"
)

// ErrorBody is the body of every error response:
// {"error":{"code":...,"message":...,"innererror":{"code":...}}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is an Azure Key Vault error, with an optional inner error.
type ErrorDetail struct {
	Code       string       `json:"code"`
	Message    string       `json:"message,omitempty"`
	InnerError *ErrorDetail `json:"innererror,omitempty"`
}

var kindStatus = map[vault.Kind]int{
	vault.KindInvalid:   http.StatusBadRequest,
	vault.KindNotFound:  http.StatusNotFound,
	vault.KindForbidden: http.StatusForbidden,
	vault.KindConflict:  http.StatusConflict,
}

// WriteError writes err as an Azure error response. A *vault.Error keeps its
// code and message; any other error is logged and becomes a 500 whose body
// gives no internal detail.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	var tooLarge *http.MaxBytesError
	switch e := vault.AsError(err); {
	case e != nil:
		detail := ErrorDetail{Code: e.Code, Message: e.Message}
		if e.Inner != "" {
			detail.InnerError = &ErrorDetail{Code: e.Inner}
		}
		WriteErrorDetail(w, kindStatus[e.Kind], detail)
	case errors.Is(err, audit.ErrUnavailable):
		slog.ErrorContext(r.Context(), "request rejected: the audit log failed to record it", "method", r.Method, "path", r.URL.Path, "error", err)
		WriteErrorDetail(w, http.StatusServiceUnavailable, ErrorDetail{Code: "ServiceUnavailable",
			Message: "The request was refused because the audit log cannot record it. Try again later; the server log has the cause."})
	case errors.As(err, &tooLarge):
		WriteErrorDetail(w, http.StatusRequestEntityTooLarge, ErrorDetail{Code: "RequestBodyTooLarge",
			Message: "The request body is larger than the limit of " + strconv.FormatInt(tooLarge.Limit, 10) + " bytes."})
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client closed the connection, so the response is not read.
		WriteErrorDetail(w, 499, ErrorDetail{Code: "ClientClosedRequest", Message: "The client closed the request."})
	default:
		slog.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		WriteErrorDetail(w, http.StatusInternalServerError, ErrorDetail{Code: "InternalServerError",
			Message: "The server failed to process the request; the server log has the cause."})
	}
}

// WriteErrorDetail writes an error response with the given status.
func WriteErrorDetail(w http.ResponseWriter, status int, detail ErrorDetail) {
	writeJSON(w, status, ErrorBody{Error: detail})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"error":{"code":"InternalServerError","message":"response encoding failed"}}`)
	}
	writeBody(w, status, body)
}

// writeBody writes a JSON response body that is already encoded.
func writeBody(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func badRequest(message string) *vault.Error {
	return &vault.Error{Kind: vault.KindInvalid, Code: "BadParameter", Message: message}
}

package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// errorBody is every error of the API: {"error": "..."}.
type errorBody struct {
	Error string `json:"error"`
}

// writeJSON writes v as gomha's commands print JSON (two-space indent),
// so that a cluster's document is byte for byte what gomha show -o json
// prints.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client went away: nothing to do
}

func writeError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, errorBody{Error: oneLine(err.Error())})
}

// writeLine answers a route check: the status and one line saying why
// (HAProxy logs it).
func writeLine(w http.ResponseWriter, code int, format string, args ...any) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	fmt.Fprintln(w, oneLine(fmt.Sprintf(format, args...)))
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
)

// ReadSecret reads a password or token from file: its first line,
// without the line ending; an empty one is an error (a server that
// accepted an empty token would be open).
func ReadSecret(file string) (string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	first, _, _ := strings.Cut(string(data), "\n")
	first = strings.TrimRight(first, "\r")
	if first == "" {
		return "", fmt.Errorf("%s: empty (its first line is the secret)", file)
	}
	return first, nil
}

// ErrUnauthorized is what a request without the right credentials gets.
var ErrUnauthorized = errors.New("authentication required")

// openPaths are left without authentication by OpenHealthAndMetrics.
var openPaths = map[string]bool{"/healthz": true, "/metrics": true}

// authenticate requires Options.Auth on every path (but the open ones).
func (s *Server) authenticate(next http.Handler) http.Handler {
	a := s.opts.Auth
	if !a.enabled() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.opts.OpenHealthAndMetrics && openPaths[r.URL.Path] {
			next.ServeHTTP(w, r)
			return
		}
		if a.allows(r) {
			next.ServeHTTP(w, r)
			return
		}
		if a.User != "" {
			w.Header().Set("WWW-Authenticate", `Basic realm="gomha", charset="UTF-8"`)
		} else {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gomha"`)
		}
		s.log.Debug("HTTP request refused: no valid credentials", "path", r.URL.Path, "remote", r.RemoteAddr)
		writeError(w, http.StatusUnauthorized, ErrUnauthorized)
	})
}

// allows compares the request's credentials with a's, in constant time
// (the lengths of the secrets are hidden too: digests are compared).
func (a Auth) allows(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	if a.Token != "" {
		if scheme, tok, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
			return equal(strings.TrimSpace(tok), a.Token)
		}
	}
	if a.User != "" {
		if user, pass, ok := r.BasicAuth(); ok {
			u, p := equal(user, a.User), equal(pass, a.Password)
			return u && p
		}
	}
	return false
}

func equal(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

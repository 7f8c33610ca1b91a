// Package statuspage is gomha manager's status page (GET / of --http):
// one self-contained HTML page, its CSS and JavaScript inline, that asks
// the JSON API every 2 s and shows every cluster as gomha show does (the
// tree, roles, states, read_only, threads, lag, GTID and coordinates, the
// manager's view, the etcd leader when the show has it) and the last
// failovers and switchovers with their phases.
//
// The page loads nothing else: no external asset, no build step. It is
// served behind the API's authentication, so a browser reaches it with
// basic authentication (or open access); a bearer token alone cannot be
// sent by a browser. Its Content-Security-Policy allows its own inline
// script and style (by hash) and requests to its own origin, nothing
// else.
package statuspage

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
)

//go:embed page.html
var page []byte

// Handler serves the page (GET and HEAD). Register it at / alone:
//
//	srv.Handle("GET /{$}", statuspage.Handler())
func Handler() http.Handler {
	csp := policy(page)
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Length", strconv.Itoa(len(page)))
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		_, _ = w.Write(page)
	})
}

// policy is the page's Content-Security-Policy: its one inline script
// and one inline style, by their SHA-256, and fetches to its origin.
func policy(doc []byte) string {
	return fmt.Sprintf("default-src 'none'; script-src %s; style-src %s; connect-src 'self'; img-src data:; "+
		"base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
		hashOf(inline(doc, "script")), hashOf(inline(doc, "style")))
}

// inline is the text of the first <tag>...</tag> of doc.
func inline(doc []byte, tag string) []byte {
	_, after, ok := bytes.Cut(doc, []byte("<"+tag+">"))
	if !ok {
		panic("statuspage: page.html has no <" + tag + ">") // the embedded page is part of the build
	}
	body, _, ok := bytes.Cut(after, []byte("</"+tag+">"))
	if !ok {
		panic("statuspage: page.html has no </" + tag + ">")
	}
	return body
}

func hashOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

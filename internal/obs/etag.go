package obs

import (
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
)

// ETag returns the entity tag of a document: base64 of its SHA-1, as
// dcos-net tagged /v1/vips (it hashed the gossip vector clock, which
// changes exactly when the document does), quoted as HTTP wants.
func ETag(body []byte) string {
	sum := sha1.Sum(body)
	return `"` + base64.StdEncoding.EncodeToString(sum[:]) + `"`
}

// ServeETag writes a JSON body with its ETag, or 304 Not Modified when the
// request's If-None-Match lists that tag (or "*"), so that a client
// polling a document learns cheaply that it has not changed.
func ServeETag(w http.ResponseWriter, r *http.Request, body []byte) {
	tag := ETag(body)
	w.Header().Set("ETag", tag)
	w.Header().Set("Content-Type", "application/json")
	if MatchETag(r.Header.Get("If-None-Match"), tag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

// MatchETag applies If-None-Match's weak comparison: true when header
// lists tag (W/ prefixes dropped) or is "*". Unquoted tags, as a client
// copying dcos-net's header may send, compare by their text.
func MatchETag(header, tag string) bool {
	if header == "" {
		return false
	}
	want := strings.Trim(tag, `"`)
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" {
			return true
		}
		if strings.Trim(strings.TrimPrefix(t, "W/"), `"`) == want {
			return true
		}
	}
	return false
}

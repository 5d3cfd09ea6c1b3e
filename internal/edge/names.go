package edge

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"
)

// clean replaces every character outside [A-Za-z0-9-] by '_', as
// marathon-lb's re.sub(r'[^a-zA-Z0-9\-]', '_', …) does (one '_' per
// character, not per byte).
func clean(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// tail is the app id without its first character (marathon-lb's
// appId[1:]; ids start with '/').
func tail(id string) string {
	_, n := utf8.DecodeRuneInString(id)
	return id[n:]
}

// backendName is B (spec §6.2): the app id without the leading slash,
// '/' as '_', '_' and the port. Dots and other characters stay.
func backendName(appID string, port int64) string {
	return strings.ReplaceAll(tail(appID), "/", "_") + "_" + strconv.FormatInt(port, 10)
}

// serverName is host_ip_port, or ip_port when the host is the IP, with
// characters outside [A-Za-z0-9-] as '_'. zdd finds servers in the
// HAProxy stats by this name.
func serverName(host, ip string, port int) string {
	if host != ip {
		return clean(host + "_" + ip + "_" + strconv.Itoa(port))
	}
	return clean(ip + "_" + strconv.Itoa(port))
}

// serverID is marathon-lb's calculate_server_id: sha256(name) as a
// number mod 32767 (HAProxy ids must fit a 16-bit signed int); 0 or an id
// already taken in this backend retries with "<name> <hexdigest>". The
// id is stable across reloads for the same sorted servers, which is what
// load-server-state-from-file needs to re-attach state.
func serverID(name string, taken map[int]bool) int {
	for {
		sum := sha256.Sum256([]byte(name))
		var n big.Int
		n.SetBytes(sum[:])
		id := int(n.Mod(&n, big.NewInt(32767)).Int64())
		if id > 0 && !taken[id] {
			taken[id] = true
			return id
		}
		name = name + " " + hex.EncodeToString(sum[:])
	}
}

// cookie is the sticky-session cookie of a server: the first 10 hex
// digits of sha1(name).
func cookie(name string) string {
	sum := sha1.Sum([]byte(name))
	return hex.EncodeToString(sum[:])[:10]
}

package native

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"hash"
	"strconv"
	"strings"
	"sync"
)

// userlist is one HAProxy userlist of marathon-lb: one user with a
// crypt(3) password (HAPROXY_{n}_AUTH). Checking a hash costs
// milliseconds (5000 rounds of SHA-512), so the verdict for an
// Authorization header is remembered, in a bounded cache.
type userlist struct {
	user, hash string
	mu         sync.Mutex
	seen       map[string]bool
}

const authCacheSize = 256

func newUserlist(user, hash string) *userlist {
	return &userlist{user: user, hash: hash, seen: map[string]bool{}}
}

// check verifies an Authorization header value (Basic only, as
// HAProxy's http_auth).
func (u *userlist) check(h string) bool {
	if u == nil || u.user == "" || h == "" {
		return false
	}
	u.mu.Lock()
	ok, known := u.seen[h]
	u.mu.Unlock()
	if known {
		return ok
	}
	ok = u.verify(h)
	u.mu.Lock()
	if len(u.seen) >= authCacheSize {
		clear(u.seen)
	}
	u.seen[h] = ok
	u.mu.Unlock()
	return ok
}

func (u *userlist) verify(h string) bool {
	scheme, cred, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		return false
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok || user != u.user {
		return false
	}
	got, ok := crypt(pass, u.hash)
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(u.hash)) == 1
}

// crypt is crypt(3) for the schemes glibc offers by default and
// HAProxy's userlists are written with: $1$ (MD5), $5$ (SHA-256), $6$
// (SHA-512). It reports false for any other setting.
func crypt(pass, setting string) (string, bool) {
	switch {
	case strings.HasPrefix(setting, "$1$"):
		return md5Crypt(pass, setting[3:]), true
	case strings.HasPrefix(setting, "$5$"):
		return shaCrypt(sha256.New, "$5$", pass, setting[3:]), true
	case strings.HasPrefix(setting, "$6$"):
		return shaCrypt(sha512.New, "$6$", pass, setting[3:]), true
	}
	return "", false
}

const itoa64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func b64From24(b *strings.Builder, b2, b1, b0 byte, n int) {
	w := uint(b2)<<16 | uint(b1)<<8 | uint(b0)
	for range n {
		b.WriteByte(itoa64[w&0x3f])
		w >>= 6
	}
}

// shaCrypt is Ulrich Drepper's SHA-crypt ("Unix crypt using SHA-256 and
// SHA-512", 2008): rest is what follows "$5$" or "$6$".
func shaCrypt(newHash func() hash.Hash, magic, pass, rest string) string {
	rounds, custom := 5000, false
	if r, ok := strings.CutPrefix(rest, "rounds="); ok {
		if i := strings.IndexByte(r, '$'); i >= 0 {
			if n, err := strconv.Atoi(r[:i]); err == nil {
				rounds, custom, rest = min(max(n, 1000), 999999999), true, r[i+1:]
			}
		}
	}
	salt := rest
	if i := strings.IndexByte(salt, '$'); i >= 0 {
		salt = salt[:i]
	}
	if len(salt) > 16 {
		salt = salt[:16]
	}
	p, s := []byte(pass), []byte(salt)
	h := newHash()
	h.Write(p)
	h.Write(s)
	h.Write(p)
	bsum := h.Sum(nil)
	size := len(bsum)

	h.Reset()
	h.Write(p)
	h.Write(s)
	for n := len(p); n > 0; n -= size {
		h.Write(bsum[:min(n, size)])
	}
	for n := len(p); n > 0; n >>= 1 {
		if n&1 != 0 {
			h.Write(bsum)
		} else {
			h.Write(p)
		}
	}
	a := h.Sum(nil)

	h.Reset()
	for range len(p) {
		h.Write(p)
	}
	dp := h.Sum(nil)
	pseq := make([]byte, 0, len(p))
	for n := len(p); n > 0; n -= size {
		pseq = append(pseq, dp[:min(n, size)]...)
	}
	h.Reset()
	for range 16 + int(a[0]) {
		h.Write(s)
	}
	ds := h.Sum(nil)
	sseq := make([]byte, 0, len(s))
	for n := len(s); n > 0; n -= size {
		sseq = append(sseq, ds[:min(n, size)]...)
	}
	c := a
	for i := range rounds {
		h.Reset()
		if i&1 != 0 {
			h.Write(pseq)
		} else {
			h.Write(c)
		}
		if i%3 != 0 {
			h.Write(sseq)
		}
		if i%7 != 0 {
			h.Write(pseq)
		}
		if i&1 != 0 {
			h.Write(c)
		} else {
			h.Write(pseq)
		}
		c = h.Sum(c[:0])
	}
	var b strings.Builder
	b.WriteString(magic)
	if custom {
		b.WriteString("rounds=" + strconv.Itoa(rounds) + "$")
	}
	b.WriteString(salt)
	b.WriteByte('$')
	if size == 64 {
		// Groups k, k+21, k+42, rotated by one for each k.
		for k := range 21 {
			x, y, z := c[k], c[k+21], c[k+42]
			switch k % 3 {
			case 1:
				x, y, z = y, z, x
			case 2:
				x, y, z = z, x, y
			}
			b64From24(&b, x, y, z, 4)
		}
		b64From24(&b, 0, 0, c[63], 2)
	} else {
		order := [10][3]int{{0, 10, 20}, {21, 1, 11}, {12, 22, 2}, {3, 13, 23}, {24, 4, 14},
			{15, 25, 5}, {6, 16, 26}, {27, 7, 17}, {18, 28, 8}, {9, 19, 29}}
		for _, o := range order {
			b64From24(&b, c[o[0]], c[o[1]], c[o[2]], 4)
		}
		b64From24(&b, 0, c[31], c[30], 3)
	}
	return b.String()
}

// md5Crypt is Poul-Henning Kamp's FreeBSD MD5 crypt.
func md5Crypt(pass, rest string) string {
	salt := rest
	if i := strings.IndexByte(salt, '$'); i >= 0 {
		salt = salt[:i]
	}
	if len(salt) > 8 {
		salt = salt[:8]
	}
	p, s := []byte(pass), []byte(salt)
	h := md5.New()
	h.Write(p)
	h.Write(s)
	h.Write(p)
	fin := h.Sum(nil)
	h.Reset()
	h.Write(p)
	h.Write([]byte("$1$"))
	h.Write(s)
	for n := len(p); n > 0; n -= 16 {
		h.Write(fin[:min(n, 16)])
	}
	for n := len(p); n > 0; n >>= 1 {
		if n&1 != 0 {
			h.Write([]byte{0})
		} else {
			h.Write(p[:1])
		}
	}
	fin = h.Sum(nil)
	for i := range 1000 {
		h.Reset()
		if i&1 != 0 {
			h.Write(p)
		} else {
			h.Write(fin)
		}
		if i%3 != 0 {
			h.Write(s)
		}
		if i%7 != 0 {
			h.Write(p)
		}
		if i&1 != 0 {
			h.Write(fin)
		} else {
			h.Write(p)
		}
		fin = h.Sum(fin[:0])
	}
	var b strings.Builder
	b.WriteString("$1$" + salt + "$")
	b64From24(&b, fin[0], fin[6], fin[12], 4)
	b64From24(&b, fin[1], fin[7], fin[13], 4)
	b64From24(&b, fin[2], fin[8], fin[14], 4)
	b64From24(&b, fin[3], fin[9], fin[15], 4)
	b64From24(&b, fin[4], fin[10], fin[5], 4)
	b64From24(&b, 0, 0, fin[11], 2)
	return b.String()
}

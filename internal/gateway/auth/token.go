package auth

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Cookie names of DC/OS' login (§2.5).
const (
	AuthCookie = "dcos-acs-auth-cookie"
	InfoCookie = "dcos-acs-info-cookie"
)

// TokenLifetime is how long a token the gateway issues is valid: open
// DC/OS' 5 days.
const TokenLifetime = 5 * 24 * time.Hour

// Claims are a DC/OS token's claims.
type Claims struct {
	UID string `json:"uid"`
	jwt.RegisteredClaims
}

// Where says where a request's token was found.
type Where uint8

// Token places.
const (
	NoToken Where = iota
	FromHeader
	FromCookie
)

// FromRequest returns the request's token and where it was found. The
// Authorization header always wins; the cookie is read only when the
// request has no Authorization header at all. A header of another scheme
// (Basic, …) yields no token.
func FromRequest(r *http.Request) (string, Where) {
	if vals, ok := r.Header["Authorization"]; ok {
		if len(vals) == 0 {
			return "", NoToken
		}
		return ParseAuthorization(vals[0]), FromHeader
	}
	c, err := r.Cookie(AuthCookie)
	if err != nil || c.Value == "" {
		return "", NoToken
	}
	return c.Value, FromCookie
}

// ParseAuthorization returns the JWT of an Authorization header value in
// DC/OS' form `token=<jwt>` or the bearer form `Bearer <jwt>`, or "".
func ParseAuthorization(v string) string {
	v = strings.TrimSpace(v)
	switch {
	case strings.HasPrefix(v, "token="):
		return strings.TrimSpace(v[len("token="):])
	case len(v) > 7 && strings.EqualFold(v[:7], "bearer "):
		return strings.TrimSpace(v[7:])
	}
	return ""
}

// Verifier checks tokens.
type Verifier struct {
	// RSA are the public keys RS256 tokens may be signed with.
	RSA []*rsa.PublicKey
	// HS256 is the shared secret of legacy tokens; nil refuses HS256.
	HS256 []byte
	// Now is the clock (tests); nil is time.Now.
	Now func() time.Time
}

// Errors of Verify, for callers that tell them apart (logs, tests).
var (
	ErrNoUID = errors.New("token has no uid claim")
)

// Verify parses and checks a token: RS256 against every RSA key in turn,
// or HS256 against the secret; uid required, exp enforced when present.
func (v *Verifier) Verify(tok string) (*Claims, error) {
	if tok == "" {
		return nil, errors.New("no token")
	}
	opts := []jwt.ParserOption{jwt.WithValidMethods([]string{"RS256", "HS256"})}
	if v.Now != nil {
		opts = append(opts, jwt.WithTimeFunc(v.Now))
	}
	var lastErr error
	try := func(key any) (*Claims, bool) {
		var c Claims
		_, err := jwt.ParseWithClaims(tok, &c, func(t *jwt.Token) (any, error) {
			switch t.Method.Alg() {
			case "RS256":
				if _, ok := key.(*rsa.PublicKey); ok {
					return key, nil
				}
			case "HS256":
				if _, ok := key.([]byte); ok {
					return key, nil
				}
			}
			return nil, fmt.Errorf("no %s key", t.Method.Alg())
		}, opts...)
		if err != nil {
			lastErr = err
			return nil, false
		}
		return &c, true
	}
	var keys []any
	for _, k := range v.RSA {
		keys = append(keys, k)
	}
	if len(v.HS256) > 0 {
		keys = append(keys, v.HS256)
	}
	for _, k := range keys {
		if c, ok := try(k); ok {
			if c.UID == "" {
				return nil, ErrNoUID
			}
			return c, nil
		}
	}
	if lastErr == nil {
		lastErr = errors.New("no verification key configured")
	}
	return nil, lastErr
}

// Sign issues an RS256 token for uid, valid for ttl (0: TokenLifetime).
func Sign(key *rsa.PrivateKey, kid, uid string, now time.Time, ttl time.Duration) (string, error) {
	if ttl == 0 {
		ttl = TokenLifetime
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, Claims{UID: uid, RegisteredClaims: jwt.RegisteredClaims{
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}})
	if kid != "" {
		t.Header["kid"] = kid
	}
	return t.SignedString(key)
}

package auth

import (
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"strings"
	"time"
)

// Service is the gateway's identity provider: it verifies tokens and
// serves the IAM routes under /acs/api/v1.
type Service struct {
	store    *Store
	verifier *Verifier
	kid      string
	log      *slog.Logger
	now      func() time.Time
	cache    *verified
}

// Options configure a Service.
type Options struct {
	// ExtraKeys are more RS256 public keys tokens may be signed with (an
	// outside IAM's).
	ExtraKeys []*rsa.PublicKey
	// HS256Secret enables legacy HS256 tokens.
	HS256Secret []byte
	Logger      *slog.Logger
	// Now is the clock (tests); nil is time.Now.
	Now func() time.Time
}

// New builds a Service over a store.
func New(store *Store, o Options) *Service {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pub := &store.Key().PublicKey
	sum := sha256.Sum256(pub.N.Bytes())
	return &Service{store: store, log: log, now: now, kid: hex.EncodeToString(sum[:8]), cache: newVerified(verifiedCacheSize),
		verifier: &Verifier{RSA: append([]*rsa.PublicKey{pub}, o.ExtraKeys...), HS256: o.HS256Secret, Now: now}}
}

// Issue signs a token for uid (ttl 0: the 5-day default).
func (s *Service) Issue(uid string, ttl time.Duration) (string, error) {
	return Sign(s.store.Key(), s.kid, uid, s.now(), ttl)
}

// Verify checks a token.
func (s *Service) Verify(tok string) (*Claims, error) { return s.verifier.Verify(tok) }

// Authenticate returns the verified claims of the request's token, the
// token and where it came from.
func (s *Service) Authenticate(r *http.Request) (*Claims, string, Where, error) {
	tok, where := FromRequest(r)
	if where == NoToken {
		return nil, "", NoToken, errors.New("no token")
	}
	if c, ok := s.cache.get(tok, s.now()); ok {
		return c, tok, where, nil
	}
	c, err := s.verifier.Verify(tok)
	if err != nil {
		return nil, "", where, err
	}
	s.cache.put(tok, c, s.now())
	return c, tok, where, nil
}

// Unauthorized writes open DC/OS' 401: WWW-Authenticate oauthjwt and the
// page that sends a browser to the login.
func Unauthorized(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=UTF-8")
	h.Set("WWW-Authenticate", "oauthjwt")
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = io.WriteString(w, unauthorizedPage)
}

const unauthorizedPage = `<html>
<head><title>Unauthorized</title>
<script>window.location = '/#/login?redirect=' + encodeURIComponent(window.location.href);</script>
<noscript><meta http-equiv="refresh" content="5; url=/#/login"></noscript>
</head>
<body><h1>Unauthorized</h1><p>You must log in to reach this page.</p></body>
</html>
`

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache, no-store, must-revalidate")
	w.Header().Set("Pragma", "no-cache")
	w.Header().Set("Expires", "0")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// iamError is the IAM's error body.
func iamError(w http.ResponseWriter, code int, errCode, desc string) {
	writeJSON(w, code, map[string]string{"title": http.StatusText(code), "description": desc, "code": errCode})
}

// LoginRequest is the body of POST /acs/api/v1/auth/login.
type LoginRequest struct {
	UID      string `json:"uid"`
	Password string `json:"password"`
	Token    string `json:"token"`
}

// maxBody bounds the IAM's request bodies.
const maxBody = 1 << 20

// ServeOpen serves the routes that need no token:
// /acs/api/v1/auth/login, /logout and /jwks.
func (s *Service) ServeOpen(w http.ResponseWriter, r *http.Request) {
	switch strings.TrimSuffix(r.URL.Path, "/") {
	case "/acs/api/v1/auth/login":
		if r.Method != http.MethodPost {
			iamError(w, http.StatusMethodNotAllowed, "ERR_METHOD", "use POST")
			return
		}
		s.login(w, r)
	case "/acs/api/v1/auth/logout":
		for _, name := range []string{AuthCookie, InfoCookie} {
			http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, Expires: time.Unix(0, 0)})
		}
		w.WriteHeader(http.StatusOK)
	case "/acs/api/v1/auth/jwks":
		pub := &s.store.Key().PublicKey
		e := big.NewInt(int64(pub.E)).Bytes()
		writeJSON(w, http.StatusOK, map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "alg": "RS256", "use": "sig", "kid": s.kid,
			"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()), "e": base64.RawURLEncoding.EncodeToString(e),
		}}})
	default:
		iamError(w, http.StatusNotFound, "ERR_NOT_FOUND", "no such resource")
	}
}

func (s *Service) login(w http.ResponseWriter, r *http.Request) {
	var req LoginRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, maxBody)).Decode(&req); err != nil {
		iamError(w, http.StatusBadRequest, "ERR_INVALID_DATA", "body: "+err.Error())
		return
	}
	if req.UID == "" {
		iamError(w, http.StatusBadRequest, "ERR_INVALID_DATA", "uid: required (external OIDC login is not supported)")
		return
	}
	u, ok := s.store.Get(req.UID)
	fail := func(why string) {
		s.log.Info("login refused", "uid", req.UID, "why", why)
		iamError(w, http.StatusUnauthorized, "ERR_INVALID_CREDENTIALS", "The UID/password or UID/token combination is invalid.")
	}
	switch {
	case !ok:
		fail("unknown uid")
		return
	case req.Token != "":
		if !u.IsService() {
			fail("not a service account")
			return
		}
		pk, err := ParsePublicKey(u.PublicKey)
		if err != nil {
			fail(err.Error())
			return
		}
		// A service login token is signed by the service itself; it must
		// name the account and expire soon.
		c, err := (&Verifier{RSA: []*rsa.PublicKey{pk}, Now: s.now}).Verify(req.Token)
		if err != nil {
			fail(err.Error())
			return
		}
		if c.UID != req.UID {
			fail("token uid differs")
			return
		}
		if c.ExpiresAt == nil {
			fail("token has no exp")
			return
		}
	case req.Password != "":
		if u.IsService() || !u.CheckPassword(req.Password) {
			fail("bad password")
			return
		}
	default:
		iamError(w, http.StatusBadRequest, "ERR_INVALID_DATA", "password or token: one is required")
		return
	}
	tok, err := s.Issue(u.UID, 0)
	if err != nil {
		iamError(w, http.StatusInternalServerError, "ERR_INTERNAL", err.Error())
		return
	}
	info, _ := json.Marshal(map[string]any{"uid": u.UID, "description": u.Description, "is_remote": false})
	exp := s.now().Add(TokenLifetime)
	http.SetCookie(w, &http.Cookie{Name: AuthCookie, Value: tok, Path: "/", HttpOnly: true, Expires: exp, SameSite: http.SameSiteLaxMode})
	http.SetCookie(w, &http.Cookie{Name: InfoCookie, Value: base64.URLEncoding.EncodeToString(info), Path: "/", Expires: exp, SameSite: http.SameSiteLaxMode})
	s.log.Info("login", "uid", u.UID, "service", u.IsService())
	writeJSON(w, http.StatusOK, map[string]string{"token": tok})
}

// apiUser is an account as the users API shows it.
type apiUser struct {
	UID         string `json:"uid"`
	Description string `json:"description"`
	URL         string `json:"url"`
	IsRemote    bool   `json:"is_remote"`
	IsService   bool   `json:"is_service"`
	PublicKey   string `json:"public_key,omitempty"`
}

func show(u User) apiUser {
	return apiUser{UID: u.UID, Description: u.Description, URL: "/acs/api/v1/users/" + u.UID, IsService: u.IsService(), PublicKey: u.PublicKey}
}

// userBody is the body of PUT and PATCH /acs/api/v1/users/<uid>.
type userBody struct {
	Description *string `json:"description"`
	Password    *string `json:"password"`
	PublicKey   *string `json:"public_key"`
}

// validUID is the IAM's uid alphabet.
func validUID(uid string) bool {
	if uid == "" || len(uid) > 96 {
		return false
	}
	for _, c := range uid {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("@.-_", c)) {
			return false
		}
	}
	return true
}

// ServeUsers serves /acs/api/v1/users[/<uid>]; the caller has
// authenticated the request.
func (s *Service) ServeUsers(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/acs/api/v1/users")
	rest = strings.Trim(rest, "/")
	if rest == "" {
		if r.Method != http.MethodGet {
			iamError(w, http.StatusMethodNotAllowed, "ERR_METHOD", "use GET")
			return
		}
		var sel *bool
		switch r.URL.Query().Get("type") {
		case "service":
			t := true
			sel = &t
		case "", "all":
		default:
			f := false
			sel = &f
		}
		list := []apiUser{}
		for _, u := range s.store.List(sel) {
			list = append(list, show(u))
		}
		writeJSON(w, http.StatusOK, map[string]any{"array": list})
		return
	}
	uid := rest
	if !validUID(uid) {
		iamError(w, http.StatusBadRequest, "ERR_INVALID_USER_ID", "uid: invalid")
		return
	}
	switch r.Method {
	case http.MethodGet:
		u, ok := s.store.Get(uid)
		if !ok {
			iamError(w, http.StatusNotFound, "ERR_UNKNOWN_USER_ID", "User with uid `"+uid+"` not known.")
			return
		}
		writeJSON(w, http.StatusOK, show(u))
	case http.MethodDelete:
		ok, err := s.store.Delete(uid)
		switch {
		case err != nil:
			iamError(w, http.StatusInternalServerError, "ERR_INTERNAL", err.Error())
		case !ok:
			iamError(w, http.StatusNotFound, "ERR_UNKNOWN_USER_ID", "User with uid `"+uid+"` not known.")
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	case http.MethodPut, http.MethodPatch:
		var b userBody
		if err := json.NewDecoder(io.LimitReader(r.Body, maxBody)).Decode(&b); err != nil {
			iamError(w, http.StatusBadRequest, "ERR_INVALID_DATA", "body: "+err.Error())
			return
		}
		u, exists := s.store.Get(uid)
		if r.Method == http.MethodPatch && !exists {
			iamError(w, http.StatusNotFound, "ERR_UNKNOWN_USER_ID", "User with uid `"+uid+"` not known.")
			return
		}
		if r.Method == http.MethodPut {
			if exists {
				iamError(w, http.StatusConflict, "ERR_USER_EXISTS", "User with uid `"+uid+"` already exists.")
				return
			}
			if (b.Password == nil) == (b.PublicKey == nil) {
				iamError(w, http.StatusBadRequest, "ERR_INVALID_DATA", "password or public_key: exactly one is required")
				return
			}
			u = User{UID: uid}
		}
		if b.Description != nil {
			u.Description = *b.Description
		}
		if b.PublicKey != nil {
			if _, err := ParsePublicKey(*b.PublicKey); err != nil {
				iamError(w, http.StatusBadRequest, "ERR_INVALID_PUBLIC_KEY", err.Error())
				return
			}
			u.PublicKey, u.Salt, u.Hash = *b.PublicKey, "", ""
		}
		if b.Password != nil {
			if len(*b.Password) < 5 {
				iamError(w, http.StatusBadRequest, "ERR_INVALID_DATA", "password: at least 5 characters")
				return
			}
			u.SetPassword(*b.Password)
		}
		if err := s.store.Put(u, r.Method == http.MethodPut); err != nil {
			if errors.Is(err, ErrExists) {
				iamError(w, http.StatusConflict, "ERR_USER_EXISTS", "User with uid `"+uid+"` already exists.")
				return
			}
			iamError(w, http.StatusInternalServerError, "ERR_INTERNAL", err.Error())
			return
		}
		if r.Method == http.MethodPut {
			w.WriteHeader(http.StatusCreated)
		} else {
			w.WriteHeader(http.StatusNoContent)
		}
	default:
		iamError(w, http.StatusMethodNotAllowed, "ERR_METHOD", "use GET, PUT, PATCH or DELETE")
	}
}

package auth

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseAuthorization(t *testing.T) {
	for in, want := range map[string]string{
		"token=abc":         "abc",
		"  token= abc ":     "abc",
		"Bearer abc":        "abc",
		"bearer abc":        "abc",
		"Basic YWRtaW4=":    "",
		"token":             "",
		"Bearer":            "",
		"":                  "",
		"acsjwt abc":        "",
		"token=a.b.c extra": "a.b.c extra",
	} {
		if got := ParseAuthorization(in); got != want {
			t.Errorf("ParseAuthorization(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFromRequestHeaderWinsOverCookie(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Basic x")
	r.AddCookie(&http.Cookie{Name: AuthCookie, Value: "cookie-token"})
	if tok, where := FromRequest(r); tok != "" || where != FromHeader {
		t.Errorf("header present: %q %v, want the header (empty) to win", tok, where)
	}
	r.Header.Del("Authorization")
	if tok, where := FromRequest(r); tok != "cookie-token" || where != FromCookie {
		t.Errorf("cookie only: %q %v", tok, where)
	}
}

// TestAccountsSurviveARestart: users and the signing key are on disk; a
// token issued before a restart still verifies after it.
func TestAccountsSurviveARestart(t *testing.T) {
	dir := t.TempDir()
	st, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	svc := New(st, Options{})
	tok, _ := svc.Issue("admin", 0)
	u := User{UID: "alice", Description: "Alice"}
	u.SetPassword("s3cret-pw")
	if err := st.Put(u, true); err != nil {
		t.Fatal(err)
	}
	if err := st.Put(u, true); err != ErrExists {
		t.Errorf("second create: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "signing-key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("signing key file: %v %v", fi, err)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, ".*"))
	if len(matches) != 0 {
		t.Errorf("temporary files left: %v", matches)
	}

	st2, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	svc2 := New(st2, Options{})
	if c, err := svc2.Verify(tok); err != nil || c.UID != "admin" {
		t.Errorf("token after restart: %v %v", c, err)
	}
	got, ok := st2.Get("alice")
	if !ok || !got.CheckPassword("s3cret-pw") || got.CheckPassword("wrong") {
		t.Errorf("alice after restart: %+v %v", got, ok)
	}

	// Password login through the API.
	h := http.HandlerFunc(svc2.ServeOpen)
	for pw, want := range map[string]int{"s3cret-pw": 200, "wrong": 401} {
		b, _ := json.Marshal(LoginRequest{UID: "alice", Password: pw})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/acs/api/v1/auth/login", bytes.NewReader(b)))
		if rec.Code != want {
			t.Errorf("login with %q: %d %s", pw, rec.Code, rec.Body)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/acs/api/v1/auth/logout", nil))
	if cs := rec.Result().Cookies(); len(cs) != 2 || cs[0].MaxAge >= 0 {
		t.Errorf("logout cookies: %+v", cs)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/acs/api/v1/auth/jwks", nil))
	if !strings.Contains(rec.Body.String(), `"kty":"RSA"`) {
		t.Errorf("jwks: %s", rec.Body)
	}
}

func TestBadLoginBodies(t *testing.T) {
	st, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	svc := New(st, Options{})
	for body, want := range map[string]int{
		``:                                400,
		`{`:                               400,
		`[]`:                              400,
		`{"password":"x"}`:                400,
		`{"uid":"nobody","password":"x"}`: 401,
		`{"uid":"nobody"}`:                401,
	} {
		rec := httptest.NewRecorder()
		svc.ServeOpen(rec, httptest.NewRequest("POST", "/acs/api/v1/auth/login", strings.NewReader(body)))
		if rec.Code != want {
			t.Errorf("login %q: %d, want %d (%s)", body, rec.Code, want, rec.Body)
		}
		if want == 400 && !strings.Contains(rec.Body.String(), "description") {
			t.Errorf("login %q: error body %s does not say what is wrong", body, rec.Body)
		}
	}
}

func TestHS256Legacy(t *testing.T) {
	st, _ := OpenStore(t.TempDir())
	secret := []byte("cluster-secret")
	svc := New(st, Options{HS256Secret: secret})
	tok := signHS(t, secret, map[string]any{"uid": "bob@example.com", "exp": time.Now().Add(time.Hour).Unix()})
	if c, err := svc.Verify(tok); err != nil || c.UID != "bob@example.com" {
		t.Errorf("HS256: %v %v", c, err)
	}
	if _, err := New(st, Options{}).Verify(tok); err == nil {
		t.Error("HS256 accepted without a configured secret")
	}
	forever := signHS(t, secret, map[string]any{"uid": "bob"})
	if _, err := svc.Verify(forever); err != nil {
		t.Errorf("token without exp refused: %v", err)
	}
}

// FuzzVerify: any Authorization value parses and verifies without
// panicking, and nothing unsigned by the gateway's key is accepted.
func FuzzVerify(f *testing.F) {
	st, err := OpenStore(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	svc := New(st, Options{HS256Secret: []byte("s")})
	good, _ := svc.Issue("admin", time.Hour)
	f.Add("token=" + good)
	f.Add("Bearer " + good)
	f.Add("token=eyJhbGciOiJub25lIn0.eyJ1aWQiOiJhIn0.")
	f.Add("token=a.b.c")
	f.Add("Bearer ")
	f.Fuzz(func(t *testing.T, hdr string) {
		tok := ParseAuthorization(hdr)
		c, err := svc.Verify(tok)
		if err == nil && (c == nil || c.UID == "") {
			t.Fatalf("accepted %q without a uid", hdr)
		}
		if err == nil && !strings.Contains(hdr, tok) {
			t.Fatalf("token %q not from %q", tok, hdr)
		}
	})
}

// TestVerifiedCacheHonoursExp: a cached token stops working at its exp.
func TestVerifiedCacheHonoursExp(t *testing.T) {
	st, _ := OpenStore(t.TempDir())
	now := time.Now()
	clock := func() time.Time { return now }
	svc := New(st, Options{Now: clock})
	tok, _ := svc.Issue("admin", 30*time.Second)
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "token="+tok)
	if _, _, _, err := svc.Authenticate(r); err != nil {
		t.Fatal(err)
	}
	now = now.Add(10 * time.Second)
	if _, _, _, err := svc.Authenticate(r); err != nil {
		t.Fatalf("cached, before exp: %v", err)
	}
	now = now.Add(time.Minute)
	if _, _, _, err := svc.Authenticate(r); err == nil {
		t.Fatal("a cached token was accepted past its exp")
	}
}

// FuzzLoginBody: any login body is answered with 400 or 401 (never a
// token, never a panic) when no account matches.
func FuzzLoginBody(f *testing.F) {
	st, err := OpenStore(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	u := User{UID: "alice"}
	u.SetPassword("right-pw")
	if err := st.Put(u, true); err != nil {
		f.Fatal(err)
	}
	svc := New(st, Options{})
	f.Add(`{"uid":"alice","password":"wrong"}`)
	f.Add(`{"uid":"alice","token":"a.b.c"}`)
	f.Add(`{"token":"x"}`)
	f.Add(`[`)
	f.Fuzz(func(t *testing.T, body string) {
		if strings.Contains(body, "right-pw") {
			return
		}
		rec := httptest.NewRecorder()
		svc.ServeOpen(rec, httptest.NewRequest("POST", "/acs/api/v1/auth/login", strings.NewReader(body)))
		if rec.Code == 200 {
			t.Fatalf("logged in with %q", body)
		}
		if rec.Code != 400 && rec.Code != 401 {
			t.Fatalf("%q: %d", body, rec.Code)
		}
	})
}

func TestUsersAPIBadInput(t *testing.T) {
	st, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	svc := New(st, Options{})
	for _, tc := range []struct {
		method, path, body string
		code               int
		names              string
	}{
		{"PUT", "/acs/api/v1/users/bob", `{`, 400, "body"},
		{"PUT", "/acs/api/v1/users/bob", `{}`, 400, "password or public_key"},
		{"PUT", "/acs/api/v1/users/bob", `{"password":"x","public_key":"y"}`, 400, "password or public_key"},
		{"PUT", "/acs/api/v1/users/bob", `{"password":"abc"}`, 400, "password"},
		{"PUT", "/acs/api/v1/users/bob", `{"public_key":"not pem"}`, 400, "public_key"},
		{"PUT", "/acs/api/v1/users/b%20b", `{"password":"long enough"}`, 400, "uid"},
		{"PATCH", "/acs/api/v1/users/nobody", `{"description":"x"}`, 404, "nobody"},
		{"DELETE", "/acs/api/v1/users/nobody", ``, 404, "nobody"},
		{"POST", "/acs/api/v1/users", ``, 405, "GET"},
		{"PUT", "/acs/api/v1/users/bob", `{"password":"long enough","description":"Bob"}`, 201, ""},
		{"PUT", "/acs/api/v1/users/bob", `{"password":"long enough"}`, 409, "exists"},
		{"PATCH", "/acs/api/v1/users/bob", `{"description":"Robert"}`, 204, ""},
		{"DELETE", "/acs/api/v1/users/bob", ``, 204, ""},
	} {
		rec := httptest.NewRecorder()
		svc.ServeUsers(rec, httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body)))
		if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.names) {
			t.Errorf("%s %s %s: %d %s, want %d naming %q", tc.method, tc.path, tc.body, rec.Code, rec.Body, tc.code, tc.names)
		}
	}
}

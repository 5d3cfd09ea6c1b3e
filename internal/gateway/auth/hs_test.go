package auth

import (
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

func signHS(t *testing.T, secret []byte, claims map[string]any) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims(claims)).SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

package auth

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// User is one account: a local user (Password set) or a service account
// (PublicKey set).
type User struct {
	UID         string `json:"uid"`
	Description string `json:"description"`
	// PublicKey is a service account's PEM public key.
	PublicKey string `json:"public_key,omitempty"`
	// Salt and Hash are a local user's PBKDF2-SHA256 password hash.
	Salt string `json:"salt,omitempty"`
	Hash string `json:"hash,omitempty"`
}

// IsService reports whether the account is a service account.
func (u *User) IsService() bool { return u.PublicKey != "" }

const pbkdf2Iter = 100_000

func hashPassword(password string, salt []byte) string {
	k, _ := pbkdf2.Key(sha256.New, password, salt, pbkdf2Iter, 32)
	return base64.StdEncoding.EncodeToString(k)
}

// SetPassword makes u a local user with the password.
func (u *User) SetPassword(password string) {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	u.Salt = base64.StdEncoding.EncodeToString(salt)
	u.Hash = hashPassword(password, salt)
	u.PublicKey = ""
}

// CheckPassword reports whether password is u's.
func (u *User) CheckPassword(password string) bool {
	salt, err := base64.StdEncoding.DecodeString(u.Salt)
	if err != nil || u.Hash == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(hashPassword(password, salt)), []byte(u.Hash)) == 1
}

// ParsePublicKey parses a PEM RSA public key (PKIX or PKCS#1).
func ParsePublicKey(s string) (*rsa.PublicKey, error) {
	b, _ := pem.Decode([]byte(s))
	if b == nil {
		return nil, errors.New("public_key: not PEM")
	}
	if k, err := x509.ParsePKIXPublicKey(b.Bytes); err == nil {
		if rk, ok := k.(*rsa.PublicKey); ok {
			return rk, nil
		}
		return nil, errors.New("public_key: not an RSA key")
	}
	if k, err := x509.ParsePKCS1PublicKey(b.Bytes); err == nil {
		return k, nil
	}
	return nil, errors.New("public_key: neither PKIX nor PKCS#1")
}

// Store keeps the accounts in users.json and the signing key in
// signing-key.pem, both in one directory; every change is written to a
// temporary file, synced and renamed over the old one.
type Store struct {
	dir string
	key *rsa.PrivateKey

	mu    sync.Mutex
	users map[string]User
}

// OpenStore opens (creating when missing) the store in dir.
func OpenStore(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	s := &Store{dir: dir, users: map[string]User{}}
	key, err := loadOrCreateKey(filepath.Join(dir, "signing-key.pem"))
	if err != nil {
		return nil, err
	}
	s.key = key
	b, err := os.ReadFile(filepath.Join(dir, "users.json"))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		var list []User
		if err := json.Unmarshal(b, &list); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "users.json"), err)
		}
		for _, u := range list {
			if u.UID != "" {
				s.users[u.UID] = u
			}
		}
	}
	return s, nil
}

// Key is the signing key.
func (s *Store) Key() *rsa.PrivateKey { return s.key }

func loadOrCreateKey(path string) (*rsa.PrivateKey, error) {
	if b, err := os.ReadFile(path); err == nil {
		blk, _ := pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("%s: not PEM", path)
		}
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("%s: not an RSA key", path)
		}
		return rk, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	if err := writeAtomic(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, err
	}
	return k, nil
}

// writeAtomic replaces path with b: a crash leaves the old file or the
// new one, never a mix.
func writeAtomic(path string, b []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, mode)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}

func (s *Store) saveLocked() error {
	list := make([]User, 0, len(s.users))
	for _, u := range s.users {
		list = append(list, u)
	}
	slices.SortFunc(list, func(a, b User) int {
		if a.UID < b.UID {
			return -1
		}
		if a.UID > b.UID {
			return 1
		}
		return 0
	})
	b, _ := json.MarshalIndent(list, "", "  ")
	return writeAtomic(filepath.Join(s.dir, "users.json"), append(b, '\n'), 0o600)
}

// Get returns the account uid.
func (s *Store) Get(uid string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[uid]
	return u, ok
}

// List returns the accounts sorted by uid; services selects service
// accounts (true), local users (false) or all (nil).
func (s *Store) List(services *bool) []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []User
	for _, u := range s.users {
		if services == nil || u.IsService() == *services {
			out = append(out, u)
		}
	}
	slices.SortFunc(out, func(a, b User) int {
		if a.UID < b.UID {
			return -1
		}
		return 1
	})
	return out
}

// ErrExists is returned by Create for a uid already taken.
var ErrExists = errors.New("user already exists")

// Create adds u; create=false replaces (or adds) it. The file is written
// before the change is visible.
func (s *Store) Put(u User, create bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, exists := s.users[u.UID]
	if create && exists {
		return ErrExists
	}
	s.users[u.UID] = u
	if err := s.saveLocked(); err != nil {
		if exists {
			s.users[u.UID] = old
		} else {
			delete(s.users, u.UID)
		}
		return err
	}
	return nil
}

// Delete removes uid; false when it did not exist.
func (s *Store) Delete(uid string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.users[uid]
	if !ok {
		return false, nil
	}
	delete(s.users, uid)
	if err := s.saveLocked(); err != nil {
		s.users[uid] = old
		return true, err
	}
	return true, nil
}

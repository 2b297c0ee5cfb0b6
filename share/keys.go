package share

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	gossh "golang.org/x/crypto/ssh"
)

// KeyError is a line of an authorized_keys file that does not parse.
type KeyError struct {
	File string
	Line int
	Err  error
}

func (e *KeyError) Error() string {
	return fmt.Sprintf("%s:%d: %v (one key a line, as OpenSSH writes them: ssh-ed25519 AAAA… name)", e.File, e.Line, e.Err)
}

// authorized is a parsed authorized_keys file: the viewer's name (the key's
// comment) by the key's wire form.
type authorized map[string]string

// LoadAuthorizedKeys reads an OpenSSH authorized_keys file. A line that does
// not parse is an error naming the file and line: a key silently skipped
// would lock a teammate out with no word why.
func LoadAuthorizedKeys(path string) (authorized, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	keys := authorized{}
	for i, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		key, comment, _, _, err := gossh.ParseAuthorizedKey(line)
		if err != nil {
			return nil, &KeyError{File: path, Line: i + 1, Err: err}
		}
		name := strings.TrimSpace(comment)
		if name == "" {
			name = gossh.FingerprintSHA256(key)
		}
		keys[string(key.Marshal())] = name
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: no keys: add one line per teammate (their ~/.ssh/id_ed25519.pub)", path)
	}
	return keys, nil
}

// EnsureKey returns the private key at path, writing a new ed25519 key there
// (mode 0600) when there is none. The host key and the local observers' key
// are kept this way, so that viewers see the same host key across restarts.
func EnsureKey(path string) (gossh.Signer, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		data, err = newKey(path)
	}
	if err != nil {
		return nil, err
	}
	signer, err := gossh.ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return signer, nil
}

func newKey(path string) ([]byte, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := gossh.MarshalPrivateKey(priv, "flightdeck")
	if err != nil {
		return nil, err
	}
	data := pem.EncodeToMemory(block)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	// O_EXCL: two cockpits starting together must not each write a key
	// and leave the other's viewers with a host key that changed.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return data, nil
}

// Secret generation and HMAC signing for the "standard" (Standard
// Webhooks) and "hmac-sha256" schemes. Sign sits on the delivery hot path,
// so it builds the signed prefix in a pooled buffer and allocates little
// beyond the HMAC state and the returned string.

package signing

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

const (
	// secretPrefix marks a Standard Webhooks secret.
	secretPrefix = "whsec_"
	// secretBytes is the amount of randomness in a generated secret.
	secretBytes = 32
	// sigLen is the length of "v1," plus a base64-encoded SHA-256 MAC.
	sigLen = 3 + 44
)

// Key is a decoded Standard Webhooks key.
type Key []byte

// NewSecret returns "whsec_" + base64.StdEncoding of 32 bytes from crypto/rand.
func NewSecret() string {
	var b [secretBytes]byte
	// crypto/rand.Read never returns an error (it crashes the program
	// instead if the OS source fails).
	_, _ = rand.Read(b[:])
	return secretPrefix + base64.StdEncoding.EncodeToString(b[:])
}

// DecodeSecret decodes "whsec_<base64>"; a secret without the prefix is
// accepted too. It fails on invalid base64 or an empty key. Errors never
// contain the secret itself.
func DecodeSecret(secret string) (Key, error) {
	raw := strings.TrimPrefix(secret, secretPrefix)
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return nil, fmt.Errorf("signing: decode secret: %w", err)
	}
	if len(key) == 0 {
		return nil, errors.New("signing: decode secret: empty key")
	}
	return Key(key), nil
}

// Sign returns "v1,<base64 signature>" for msgID, unix timestamp ts and body.
// It is safe for concurrent use.
func (k Key) Sign(msgID string, ts int64, body []byte) string {
	var buf [sigLen]byte
	return string(k.appendSign(buf[:0], msgID, ts, body))
}

// scratch is a pooled per-call buffer: bytes passed to hash.Hash.Write
// escape to the heap, so a stack buffer would not avoid the allocation.
type scratch struct {
	buf []byte // "{msgID}.{ts}." and then the raw MAC
}

// maxPooled caps the buffer size kept in the pool so that one huge message
// ID does not pin memory.
const maxPooled = 1 << 10

var scratchPool = sync.Pool{New: func() any { return &scratch{buf: make([]byte, 0, 128)} }}

// appendSign appends "v1,<base64 signature>" to dst.
func (k Key) appendSign(dst []byte, msgID string, ts int64, body []byte) []byte {
	s := scratchPool.Get().(*scratch)
	b := append(s.buf[:0], msgID...)
	b = append(b, '.')
	b = strconv.AppendInt(b, ts, 10)
	b = append(b, '.')

	mac := hmac.New(sha256.New, k)
	mac.Write(b)
	mac.Write(body)
	sum := mac.Sum(b[:0])

	dst = append(dst, "v1,"...)
	dst = base64.StdEncoding.AppendEncode(dst, sum)
	if cap(sum) <= maxPooled {
		s.buf = sum[:0]
		scratchPool.Put(s)
	}
	return dst
}

// SignatureHeader returns the webhook-signature header value: one "v1,..."
// per key, space-separated, in order. It returns "" when keys is empty.
func SignatureHeader(keys []Key, msgID string, ts int64, body []byte) string {
	switch len(keys) {
	case 0:
		return ""
	case 1:
		return keys[0].Sign(msgID, ts, body)
	}
	buf := make([]byte, 0, len(keys)*(sigLen+1))
	for i, k := range keys {
		if i > 0 {
			buf = append(buf, ' ')
		}
		buf = k.appendSign(buf, msgID, ts, body)
	}
	return string(buf)
}

// HMACSHA256 returns base64(HMAC-SHA256(key=[]byte(secret), body)) for the
// single-header scheme. The whole secret string, including any "whsec_"
// prefix, is the key.
func HMACSHA256(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	var sum [sha256.Size]byte
	return base64.StdEncoding.EncodeToString(mac.Sum(sum[:0]))
}

// Secret generation and HMAC signing for the "standard" (Standard
// Webhooks) and "hmac-sha256" schemes. Signing sits on the delivery hot
// path: a Signer keeps keyed HMAC states for reuse, and the signed prefix
// is built in a pooled buffer, so a signature allocates little beyond the
// returned string.

package signing

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
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
// It is safe for concurrent use. To sign many messages with one key, use
// a Signer.
func (k Key) Sign(msgID string, ts int64, body []byte) string {
	var buf [sigLen]byte
	return string(appendSign(buf[:0], hmac.New(sha256.New, k), msgID, ts, body))
}

// Signer signs many messages with one key. Keying an HMAC costs two
// SHA-256 blocks and five allocations, some 40% of signing a webhook of a
// few hundred bytes, so a Signer keeps keyed HMAC states in a pool and
// only resets them. It is safe for concurrent use.
type Signer struct {
	macs sync.Pool // of keyed hash.Hash
}

// NewSigner returns a Signer for key: a decoded Standard Webhooks Key, or
// for the hmac-sha256 scheme the bytes of the secret string. It keeps key,
// which must not change afterwards.
func NewSigner(key []byte) *Signer {
	s := &Signer{}
	s.macs.New = func() any { return hmac.New(sha256.New, key) }
	return s
}

// Sign is Key.Sign with the Signer's key.
func (s *Signer) Sign(msgID string, ts int64, body []byte) string {
	var buf [sigLen]byte
	return string(s.appendSign(buf[:0], msgID, ts, body))
}

func (s *Signer) appendSign(dst []byte, msgID string, ts int64, body []byte) []byte {
	mac := s.macs.Get().(hash.Hash)
	mac.Reset()
	dst = appendSign(dst, mac, msgID, ts, body)
	s.macs.Put(mac)
	return dst
}

// HMACSHA256 returns base64(HMAC-SHA256(key, body)): the single-header
// scheme, whose key is the whole secret string, any "whsec_" prefix
// included.
func (s *Signer) HMACSHA256(body []byte) string {
	mac := s.macs.Get().(hash.Hash)
	mac.Reset()
	mac.Write(body)
	var sum [sha256.Size]byte
	sig := base64.StdEncoding.EncodeToString(mac.Sum(sum[:0]))
	s.macs.Put(mac)
	return sig
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

// appendSign appends "v1,<base64 signature>" to dst, signing with mac: a
// keyed HMAC-SHA256 with nothing written to it yet.
func appendSign(dst []byte, mac hash.Hash, msgID string, ts int64, body []byte) []byte {
	s := scratchPool.Get().(*scratch)
	b := append(s.buf[:0], msgID...)
	b = append(b, '.')
	b = strconv.AppendInt(b, ts, 10)
	b = append(b, '.')

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
// per signer, space-separated, in order. It returns "" when there is none.
func SignatureHeader(signers []*Signer, msgID string, ts int64, body []byte) string {
	switch len(signers) {
	case 0:
		return ""
	case 1:
		return signers[0].Sign(msgID, ts, body)
	}
	buf := make([]byte, 0, len(signers)*(sigLen+1))
	for i, s := range signers {
		if i > 0 {
			buf = append(buf, ' ')
		}
		buf = s.appendSign(buf, msgID, ts, body)
	}
	return string(buf)
}

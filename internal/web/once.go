// Secrets shown once. A form that makes a secret (a signing secret, a
// token, a password) answers with a redirect, and the page it leads to
// shows the secret: a reload then shows the page again instead of making a
// second one. The secret travels in a short-lived cookie sealed with a key
// derived from the session's own secret, so that the cookie alone reveals
// nothing (to a log or a proxy), works on every node, and is read once.
package web

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
)

const onceCookie = "postbode_once"

// once is what a page shows once: values made for one resource.
type once struct {
	For    string            `json:"for"`
	Values map[string]string `json:"v"`
}

// onceFor returns the values made for resource id, if this page shows them.
func (v *view) onceFor(id string) map[string]string {
	if v.once == nil || v.once.For != id {
		return nil
	}
	return v.once.Values
}

func sealer(sessionSecret string) cipher.AEAD {
	key := sha256.Sum256([]byte("postbode once\x00" + sessionSecret))
	block, _ := aes.NewCipher(key[:])
	aead, _ := cipher.NewGCM(block)
	return aead
}

// showOnce redirects to the page at to, which shows the values once.
func (s *Server) showOnce(w http.ResponseWriter, r *http.Request, v *view, to, flash string, o once) error {
	plain, _ := json.Marshal(o)
	aead := sealer(v.secret)
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	sealed := aead.Seal(nonce, nonce, plain, nil)
	http.SetCookie(w, &http.Cookie{Name: onceCookie, Value: base64.RawURLEncoding.EncodeToString(sealed), Path: cookiePath(v),
		MaxAge: 300, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: secure(r)})
	return s.redirect(w, r, to, flash)
}

// takeOnce reads and removes what a previous form left to show once.
func takeOnce(w http.ResponseWriter, r *http.Request, v *view) {
	c, err := r.Cookie(onceCookie)
	if err != nil {
		return
	}
	http.SetCookie(w, &http.Cookie{Name: onceCookie, Path: cookiePath(v), MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: secure(r)})
	sealed, err := base64.RawURLEncoding.DecodeString(c.Value)
	aead := sealer(v.secret)
	if err != nil || len(sealed) < aead.NonceSize() {
		return
	}
	plain, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], nil)
	if err != nil {
		return // another session's, or tampered with
	}
	var o once
	if json.Unmarshal(plain, &o) == nil {
		v.once = &o
	}
}

// cookiePath keeps the portal's cookies to the portal's pages.
func cookiePath(v *view) string {
	if v.Portal {
		return "/portal/"
	}
	return "/"
}

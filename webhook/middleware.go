// Middleware: verify a request before the handler sees it, body restored.
package webhook

import (
	"bytes"
	"errors"
	"io"
	"net/http"
)

// Middleware returns a handler that reads the request body (at most the
// maximum body size: larger is 413), verifies it (401 on failure; 400 when
// the body cannot be read) and then calls next with the body restored,
// whole, for it to read.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, v.maxBody))
		r.Body.Close()
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				v.onError(w, r, http.StatusRequestEntityTooLarge, errors.New("webhook: the request body is too large"))
				return
			}
			v.onError(w, r, http.StatusBadRequest, errors.New("webhook: the request body could not be read"))
			return
		}
		if err := v.Verify(r.Header, body); err != nil {
			v.onError(w, r, http.StatusUnauthorized, err)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		next.ServeHTTP(w, r)
	})
}

func defaultOnError(w http.ResponseWriter, _ *http.Request, status int, err error) {
	http.Error(w, err.Error(), status)
}

// Examples of verifying Postbode's webhooks: compiled by go vet and run
// by go test where they have an Output comment.
package webhook_test

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/postbode/postbode/webhook"
)

// A secret as Postbode shows it when a subscription is made.
const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func ExampleVerifier_Middleware() {
	v, err := webhook.NewVerifier(os.Getenv("POSTBODE_SECRET"))
	if err != nil {
		log.Fatal(err)
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body) // verified, whole
		ev, err := webhook.Parse(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		log.Printf("%s %s", ev.Type, ev.ID)
		w.WriteHeader(http.StatusNoContent)
	})
	http.Handle("POST /hooks/postbode", v.Middleware(handler))
	log.Fatal(http.ListenAndServe(":9000", nil))
}

func ExampleVerifier_Verify() {
	body := []byte(`{"id":"evt_1","type":"invoice.paid","data":{"invoice":"1001"}}`)
	signedAt := time.Unix(1767366245, 0)

	// What Postbode sends with a delivery (standard scheme).
	sig, _ := webhook.SignStandard(secret, "evt_1", signedAt, body)
	h := http.Header{}
	h.Set("webhook-id", "evt_1")
	h.Set("webhook-timestamp", strconv.FormatInt(signedAt.Unix(), 10))
	h.Set("webhook-signature", sig)

	at := func(t time.Time) webhook.Option { return webhook.WithClock(func() time.Time { return t }) }
	v, _ := webhook.NewVerifier(secret, at(signedAt.Add(time.Minute)))
	fmt.Println(v.Verify(h, body))
	fmt.Println(v.Verify(h, []byte(`{"id":"evt_1","type":"invoice.paid","data":{"invoice":"9999"}}`)))

	late, _ := webhook.NewVerifier(secret, at(signedAt.Add(time.Hour)))
	err := late.Verify(h, body)
	fmt.Println(errors.Is(err, webhook.ErrTimestampTooOld))
	// Output:
	// <nil>
	// webhook: invalid signature
	// true
}

func ExampleWithScheme() {
	// A subscription with signature_scheme hmac-sha256: one header, the
	// secret's bytes as the key, no timestamp.
	v, _ := webhook.NewVerifier(secret, webhook.WithScheme(webhook.SchemeHMACSHA256))
	body := []byte(`{"id":"evt_1","type":"invoice.paid"}`)
	h := http.Header{}
	h.Set("X-Postbode-Signature", webhook.SignHMAC(secret, body))
	fmt.Println(v.Verify(h, body))
	h.Del("X-Postbode-Signature")
	fmt.Println(v.Verify(h, body))
	// Output:
	// <nil>
	// webhook: missing signature headers: X-Postbode-Signature
}

func ExampleParse() {
	ev, err := webhook.Parse([]byte(`{"id":"evt_1","type":"invoice.paid","label":"Invoice paid","workspace_id":"ws_1",
		"subscription_id":"sub_1","user_id":null,"subject":"invoice/1001","data":{"invoice":"1001","amount":4200},
		"timestamp":"2026-11-25T12:27:16.068663Z","api_version":null}`))
	if err != nil {
		log.Fatal(err)
	}
	var data struct {
		Invoice string
		Amount  int
	}
	if err := ev.DecodeData(&data); err != nil {
		log.Fatal(err)
	}
	fmt.Println(ev.Type, *ev.Subject, data.Invoice, data.Amount)
	// Output: invoice.paid invoice/1001 1001 4200
}

// The middleware answers 401 to a request that does not verify, and never
// calls the handler.
func ExampleVerifier_Middleware_refused() {
	v, _ := webhook.NewVerifier(secret)
	h := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("not reached")
	}))
	r := httptest.NewRequest("POST", "/hook", strings.NewReader(`{}`))
	r.Header.Set("webhook-id", "evt_1")
	r.Header.Set("webhook-timestamp", strconv.FormatInt(time.Now().Unix(), 10))
	r.Header.Set("webhook-signature", "v1,bm90IGEgc2lnbmF0dXJl")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Print(w.Code, " ", w.Body.String())
	// Output: 401 webhook: invalid signature
}

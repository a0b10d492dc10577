// Mailboxes of pull subscriptions: claim, acknowledge, search, stats.
package api

import (
	"net/http"

	"github.com/postbode/postbode/internal/auth"
	"github.com/postbode/postbode/internal/mailbox"
)

func (s *Server) claim(r *http.Request, p *auth.Principal) (int, any, error) {
	var in mailbox.ClaimInput
	if err := decode(r, &in, true); err != nil {
		return 0, nil, err
	}
	return ok(s.Mailboxes.Claim(r.Context(), p, r.PathValue("ws"), r.PathValue("id"), in))
}

// ack is the handler of one acknowledgement.
func (s *Server) ack(action string) handler {
	return func(r *http.Request, p *auth.Principal) (int, any, error) {
		var in mailbox.AckInput
		if err := decode(r, &in, true); err != nil {
			return 0, nil, err
		}
		return ok(s.Mailboxes.Ack(r.Context(), p, r.PathValue("ws"), r.PathValue("id"), r.PathValue("message"), action, in))
	}
}

// ackBatch is the handler of a batch of acknowledgements.
func (s *Server) ackBatch(r *http.Request, p *auth.Principal) (int, any, error) {
	var in mailbox.AckBatchInput
	if err := decode(r, &in, false); err != nil {
		return 0, nil, err
	}
	return ok(s.Mailboxes.AckBatch(r.Context(), p, r.PathValue("ws"), r.PathValue("id"), in))
}

func (s *Server) searchMailbox(r *http.Request, p *auth.Principal) (int, any, error) {
	q := r.URL.Query()
	f := mailbox.Filter{Status: q.Get("status"), Type: q.Get("type"), Subject: q.Get("subject")}
	// The mailbox pages by count, as Koppeltaal's API does.
	return ok(s.Mailboxes.Search(r.Context(), p, r.PathValue("ws"), r.PathValue("id"), f,
		listingQuery(q.Get("cursor"), q.Get("count"))))
}

func (s *Server) mailboxStats(r *http.Request, p *auth.Principal) (int, any, error) {
	return ok(s.Mailboxes.Stats(r.Context(), p, r.PathValue("ws"), r.PathValue("id")))
}

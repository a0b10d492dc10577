// Package verify checks the signature that a sender attaches to an inbound
// webhook (POST /in/{id}), for systems that sign what they send. It is the
// receiving counterpart of package signing, and knows nothing of HTTP
// routing or storage: a Config is plain data, stored as JSON with the
// inbound webhook, and Check reads a request's headers and raw body.
//
// Schemes:
//
//   - "standard" (Standard Webhooks, as Svix and others send it): headers
//     webhook-id, webhook-timestamp and webhook-signature, which holds
//     space-separated "v1,<base64>" entries; HMAC-SHA256 over
//     "{id}.{timestamp}.{body}" keyed with the base64-decoded part of a
//     "whsec_" secret. Svix's own header names (svix-id, svix-timestamp,
//     svix-signature) are read when webhook-signature is absent.
//   - "hmac": an HMAC of the body in a named header, with algorithm sha1,
//     sha256 (default) or sha512, encoding hex (default) or base64, and an
//     optional prefix such as "sha256="; the key is the secret's bytes.
//   - "github": X-Hub-Signature-256, "sha256=" + hex HMAC-SHA256 of the body.
//   - "stripe": Stripe-Signature, "t=<unix>,v1=<hex>[,v1=<hex>…]",
//     HMAC-SHA256 over "<t>.<body>" keyed with the whole secret string.
//   - "shopify": X-Shopify-Hmac-Sha256, base64 HMAC-SHA256 of the body.
//   - "slack": X-Slack-Signature, "v0=" + hex HMAC-SHA256 over
//     "v0:<X-Slack-Request-Timestamp>:<body>".
//
// Schemes that sign a timestamp (standard, stripe, slack) refuse one more
// than Tolerance (5 minutes) away from now, in either direction, so a
// captured request cannot be replayed later. The others sign the body only
// and cannot tell a replay; an inbound webhook's dedupe_header (for GitHub,
// X-GitHub-Delivery) is the defence there.
//
// A failed check is an *errs.Error of kind Unauthenticated and code
// invalid_signature (the API's 401), whose message tells the sender's
// integrator what is wrong ("missing X-Hub-Signature-256 header",
// "timestamp is 12m0s old, more than the 5m0s allowed") and which wraps
// ErrMissing, ErrMalformed, ErrTimestamp or ErrMismatch.
//
// Secrets never appear in errors or in a printed or logged Config. API
// output shows them as SecretMask, and an update that sends SecretMask back
// keeps the stored secret (KeepSecret); SecretMask is therefore never a
// secret itself.
package verify

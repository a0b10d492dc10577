// Package webhook verifies the webhooks Postbode sends, for the receiving
// side: the signature of either scheme a subscription may use, the
// timestamp's tolerance, and an http.Handler middleware that does it all
// before a handler sees the request. It also parses Postbode's envelope
// body into an [Event].
//
// The two schemes (a subscription's signature_scheme):
//
//   - "standard" ([SchemeStandard], the default): Standard Webhooks. Headers
//     webhook-id, webhook-timestamp (Unix seconds) and webhook-signature,
//     "v1,<base64>" of HMAC-SHA256 over "{id}.{timestamp}.{body}" keyed
//     with the base64-decoded part of the secret after "whsec_". During a
//     secret rotation the header holds two signatures, space-separated:
//     either one valid is enough. A timestamp more than the tolerance
//     (default 5 minutes) from now is refused, either way.
//   - "hmac-sha256" ([SchemeHMACSHA256]): one header (default
//     X-Postbode-Signature, see [WithSignatureHeader]) holding
//     base64(HMAC-SHA256(body)) keyed with the secret string's UTF-8 bytes,
//     "whsec_" prefix included; during a rotation two, space-separated.
//     There is no timestamp: deduplicate by the envelope's id to resist
//     replays.
//
// Use:
//
//	v, err := webhook.NewVerifier(os.Getenv("POSTBODE_SECRET"))
//	if err != nil { … }
//	http.Handle("POST /hook", v.Middleware(handler))
//
// Inside handler, r.Body is the verified body, whole. [Verifier.Verify]
// does the check alone, for other frameworks; its errors are the
// sentinels [ErrMissingHeaders], [ErrMalformedHeader],
// [ErrInvalidSignature], [ErrTimestampTooOld] and [ErrTimestampTooNew]
// (match them with errors.Is). Signatures are compared in constant time.
package webhook

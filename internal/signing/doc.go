// Package signing produces the signatures Postbode attaches to outgoing
// webhooks so receivers can check that a delivery is authentic.
//
// Two schemes are supported:
//
//   - "standard" (Standard Webhooks): headers webhook-id,
//     webhook-timestamp (Unix seconds) and webhook-signature. The
//     signature is "v1," + base64(HMAC-SHA256(key, id + "." + ts + "." +
//     body)), where key is the base64-decoded part of a "whsec_" secret.
//     During a secret rotation one "v1,..." entry is sent per key,
//     space-separated, so receivers holding either key can verify.
//   - "hmac-sha256": a single header holding base64(HMAC-SHA256(key =
//     the secret string's bytes, message = body)).
//
// Secrets are "whsec_" followed by standard base64 of 32 random bytes
// (see NewSecret). All functions are safe for concurrent use.
package signing

// Package schema compiles the JSON Schema an event type may carry and
// validates an event's data against it.
//
// Compile turns schema bytes into a *Schema; Schema.Validate checks one
// data document and, on failure, returns a *ValidationError naming the
// failing place in the data (a JSON Pointer) and saying what is wrong in one
// sentence. Cache keeps compiled schemas so that each is compiled once per
// process. A missing schema costs nothing: Compile and Cache.Get return a
// nil *Schema for empty (or JSON null) bytes, and a nil *Schema accepts
// everything.
//
// The validator is github.com/santhosh-tekuri/jsonschema/v6. A schema
// without "$schema" is read as draft 2020-12; drafts 4, 6, 7 and 2019-09
// are accepted when "$schema" names them.
//
// Schemas come from API users, so Compile treats them as hostile:
//
//   - Size: at most MaxSchemaSize bytes, JSON nesting at most MaxSchemaDepth,
//     and numbers of ordinary size (see MaxSchemaNumberLen and
//     MaxSchemaExponent), since the validator computes with exact rationals
//     whose cost grows with a number's digits and exponent. The worst schema
//     within these bounds compiles in about 0.4 s to about 14 MiB (64 KiB of
//     trivial subschemas); Cache counts that memory.
//   - References: only to places inside the schema itself (and to the
//     standard meta-schemas, which are built into the library). Nothing is
//     ever read from the network or the file system; a reference to any
//     other document is a compile error saying so. $dynamicRef and
//     $recursiveRef are refused, because their targets depend on the path
//     taken at validation time and so escape the cost check below.
//   - Work: $ref, allOf, anyOf and friends can share subschemas, so a small
//     schema can ask for an exponential number of checks (a "billion laughs"
//     of references). Compile refuses a $ref cycle that never moves into the
//     data (infinite recursion) and a schema that makes more than
//     MaxValidationCost checks of a single value. Because recursion through
//     the data can still multiply work with the depth of the data, Validate
//     first computes, without running the validator, an upper bound of the
//     work it would do on this document, and refuses documents whose bound
//     exceeds MaxValidationCost (a *ValidationError wrapping ErrTooComplex).
//     Regular expressions are Go's RE2: linear in the input, never
//     catastrophic backtracking; their cost is counted too.
//   - Data numbers beyond MaxNumberLen characters or an exponent beyond
//     ±MaxNumberExponent are refused when the data is validated, for the same
//     reason as schema numbers (and because the library cannot represent some
//     of them at all).
//
// Decisions a schema author will notice:
//
//   - "format" is asserted (an "email" that is not an e-mail address fails),
//     in every draft, for the formats the library knows: date-time, date,
//     time, duration, period, email, hostname, ipv4, ipv6, uri, uri-reference,
//     iri, iri-reference, uri-template, uuid, json-pointer,
//     relative-json-pointer, regex and semver. Unknown formats (such as
//     OpenAPI's "int64") are ignored. Draft 2020-12 makes "format" an
//     annotation by default, but people who put "format": "date-time" into a
//     gateway's schema expect it checked, and older drafts assert it anyway,
//     so one rule for all is the least surprising.
//   - contentEncoding, contentMediaType and contentSchema are annotations
//     only (the spec's default): decoding payloads inside strings costs more
//     than it is worth at the gateway.
//   - The schema document must be a JSON object. The boolean schemas true and
//     false are refused at the top: true means "no schema" (store none) and
//     false would refuse every event, which is never what is meant. Booleans
//     are fine as subschemas ("properties": {"legacy": false}).
//   - {} is a valid schema that accepts everything.
package schema

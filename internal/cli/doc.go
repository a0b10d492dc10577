// Package cli is the postbode command line: the cobra command tree that
// cmd/postbode runs. It has the server's own commands (serve, bench,
// migrate, backup, version) and a client for every resource of a running
// server's API (workspaces, event-types, subscriptions, events, users,
// tokens, inbound, mailbox, portal-link, recover, resend), built on the
// public Go client in package client, and `listen`, which forwards a pull
// subscription's messages, signed, to a local URL for development without a
// public one.
//
// Client commands read the server's URL, the token and the workspace from
// flags (--url, --token, --workspace) or the environment (POSTBODE_URL,
// POSTBODE_TOKEN, POSTBODE_WORKSPACE). They print tables for people and,
// with --json, the API's objects as JSON for scripts. Errors print the
// API's status, code and message; the exit status is 1 for an error and 2
// for a usage error (an unknown command or flag, a missing argument, no
// token or workspace).
//
// One file per group of commands: root.go (the tree, the global flags,
// output and errors), server.go (serve, bench, version), backup.go (backup,
// migrate), workspaces.go (workspaces, event-types, portal-link),
// subscriptions.go (subscriptions, recover), events.go (events, resend),
// users.go (users, tokens), inbound.go, mailbox.go, listen.go and
// progress.go (the progress bar).
package cli

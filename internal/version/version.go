// Package version holds the version Postbode reports (User-Agent, `postbode
// version`), set at build time with -ldflags "-X …/version.Version=v1.2.3".
package version

// Version is the release; "dev" for builds from source.
var Version = "dev"

package config

import (
	"io"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParseDefaults(t *testing.T) {
	c, err := Parse(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:8080" || c.DataDir != "./data" || c.Database != "" || c.AllowPrivateTargets {
		t.Errorf("defaults: %+v", c)
	}
	if c.InactiveAfter != 1440*time.Hour {
		t.Errorf("inactive-after %s, want 1440h", c.InactiveAfter)
	}
	if len(c.RetrySchedule) != 9 || c.RetrySchedule[0] != 5*time.Second || c.RetrySchedule[8] != 24*time.Hour {
		t.Errorf("retry schedule %v", c.RetrySchedule)
	}
}

func TestParsePrecedence(t *testing.T) {
	e := env(map[string]string{"POSTBODE_ADDR": "127.0.0.1:9000", "POSTBODE_ALLOW_PRIVATE_TARGETS": "true",
		"POSTBODE_RETRY_SCHEDULE": "1s, 2s", "POSTBODE_DATA_DIR": "/env"})
	c, err := Parse([]string{"--data-dir", "/flag"}, e, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9000" || c.DataDir != "/flag" || !c.AllowPrivateTargets {
		t.Errorf("got %+v", c)
	}
	if len(c.RetrySchedule) != 2 || c.RetrySchedule[1] != 2*time.Second {
		t.Errorf("retry schedule %v", c.RetrySchedule)
	}
	c, err = Parse([]string{"--allow-private-targets=false"}, e, io.Discard)
	if err != nil || c.AllowPrivateTargets {
		t.Errorf("flag must beat env: %v %v", c.AllowPrivateTargets, err)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"bad duration", []string{"--inactive-after", "soon"}, nil, "--inactive-after"},
		{"negative duration", []string{"--inactive-after", "-1h"}, nil, "--inactive-after"},
		{"bad schedule", []string{"--retry-schedule", "5s,often"}, nil, "--retry-schedule"},
		{"zero delay", []string{"--retry-schedule", "0s"}, nil, "--retry-schedule"},
		{"bad bool env", nil, map[string]string{"POSTBODE_ALLOW_PRIVATE_TARGETS": "maybe"}, "POSTBODE_ALLOW_PRIVATE_TARGETS"},
		{"short bootstrap token", nil, map[string]string{"POSTBODE_BOOTSTRAP_TOKEN": "short"}, "at least 32"},
		{"blank bootstrap token", nil, map[string]string{"POSTBODE_BOOTSTRAP_TOKEN": strings.Repeat(" ", 40)}, "without spaces"},
		{"bootstrap token with a space", nil, map[string]string{"POSTBODE_BOOTSTRAP_TOKEN": strings.Repeat("x", 40) + " "}, "without spaces"},
		{"bootstrap token with a line break", nil, map[string]string{"POSTBODE_BOOTSTRAP_TOKEN": strings.Repeat("x", 40) + "\n"}, "control characters"},
		{"bootstrap token with NUL", nil, map[string]string{"POSTBODE_BOOTSTRAP_TOKEN": strings.Repeat("x", 40) + "\x00"}, "control characters"},
		{"bad concurrency", []string{"--subscription-concurrency", "0"}, nil, "--subscription-concurrency"},
		{"bad log level", []string{"--log-level", "loud"}, nil, "--log-level"},
		{"stray argument", []string{"extra"}, nil, "unexpected argument"},
		{"frame ancestor with a path", []string{"--portal-frame-ancestors", "https://app.example.com/settings"}, nil, "--portal-frame-ancestors"},
		{"frame ancestor without a scheme", []string{"--portal-frame-ancestors", "app.example.com"}, nil, "--portal-frame-ancestors"},
		{"frame ancestor that is a CSP keyword", nil, map[string]string{"POSTBODE_PORTAL_FRAME_ANCESTORS": "*"}, "--portal-frame-ancestors"},
		{"frame ancestor smuggling a directive", []string{"--portal-frame-ancestors", "https://a.example;script-src"}, nil, "--portal-frame-ancestors"},
		{"frame ancestor with a user", []string{"--portal-frame-ancestors", "https://u@a.example"}, nil, "--portal-frame-ancestors"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.args, env(tt.env), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestParseScheduleEmpty(t *testing.T) {
	s, err := ParseSchedule(" ")
	if err != nil || len(s) != 0 {
		t.Fatalf("empty schedule: %v %v", s, err)
	}
}

func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{DefaultRetrySchedule, "", "1s", "1s,,2s", "-5m", "9999999h", "1e3s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ds, err := ParseSchedule(s)
		if err != nil {
			return
		}
		if len(ds) > MaxRetries {
			t.Fatalf("%d delays accepted", len(ds))
		}
		for _, d := range ds {
			if d <= 0 || d > MaxRetryDelay {
				t.Fatalf("delay %s accepted from %q", d, s)
			}
		}
	})
}

func TestParseQueueMemory(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    int64
		wantErr bool
	}{
		{name: "default", want: 128 << 20},
		{name: "flag", args: []string{"--queue-memory", "1GiB"}, want: 1 << 30},
		{name: "environment", env: map[string]string{"POSTBODE_QUEUE_MEMORY": "64MiB"}, want: 64 << 20},
		{name: "flag beats environment", args: []string{"--queue-memory=256MiB"},
			env: map[string]string{"POSTBODE_QUEUE_MEMORY": "64MiB"}, want: 256 << 20},
		{name: "bytes", args: []string{"--queue-memory", "1048576"}, want: 1 << 20},
		{name: "kibibytes", args: []string{"--queue-memory", "2048KiB"}, want: 2 << 20},
		{name: "space before the unit", args: []string{"--queue-memory", "64 MiB"}, want: 64 << 20},
		{name: "smaller than an event", args: []string{"--queue-memory", "512KiB"}, wantErr: true},
		{name: "decimal unit", args: []string{"--queue-memory", "128MB"}, wantErr: true},
		{name: "negative", args: []string{"--queue-memory", "-1GiB"}, wantErr: true},
		{name: "fraction", args: []string{"--queue-memory", "1.5GiB"}, wantErr: true},
		{name: "no number", args: []string{"--queue-memory", "MiB"}, wantErr: true},
		{name: "overflow", args: []string{"--queue-memory", "9999999TiB"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(tt.args, env(tt.env), io.Discard)
			switch {
			case tt.wantErr && (err == nil || !strings.Contains(err.Error(), "--queue-memory")):
				t.Errorf("error %v, want one naming --queue-memory", err)
			case !tt.wantErr && err != nil:
				t.Errorf("error %v", err)
			case !tt.wantErr && c.QueueMemory != tt.want:
				t.Errorf("QueueMemory %d, want %d", c.QueueMemory, tt.want)
			}
		})
	}
}

// TestInactiveAfterBelowActivityInterval: activity is written at most once
// a minute per user (auth.ActivityEvery), and the maintenance run judges
// inactivity by what is written. With --inactive-after shorter than that,
// a user whose token is in use every second is marked inactive anyway
// (seen with 6s: 200 for six seconds, then 401 while still busy). Such a
// setting must be refused at start.
func TestInactiveAfterBelowActivityInterval(t *testing.T) {
	if _, err := Parse([]string{"--inactive-after", "30s"}, env(nil), io.Discard); err == nil {
		t.Errorf("--inactive-after 30s accepted: users in constant use go inactive, as activity is written once a minute")
	}
}

func TestParseFrameAncestors(t *testing.T) {
	c, err := Parse([]string{"--portal-frame-ancestors", "https://app.example.com/, http://localhost:3000 https://b.example"}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.PortalFrameAncestors, " ") != "https://app.example.com http://localhost:3000 https://b.example" {
		t.Errorf("frame ancestors %q", c.PortalFrameAncestors)
	}
	if c, _ := Parse(nil, env(nil), io.Discard); c.PortalFrameAncestors != nil {
		t.Errorf("default frame ancestors %q, want none", c.PortalFrameAncestors)
	}
}

func TestParseTracing(t *testing.T) {
	for _, c := range []struct {
		name     string
		env      map[string]string
		tracing  bool
		endpoint string
		service  string
		err      string
	}{
		{name: "off by default", service: "postbode"},
		{name: "endpoint", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"},
			tracing: true, endpoint: "http://127.0.0.1:4318", service: "postbode"},
		{name: "traces endpoint first", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318",
			"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://b/v1/traces", "OTEL_SERVICE_NAME": "gateway-eu"},
			tracing: true, endpoint: "https://b/v1/traces", service: "gateway-eu"},
		{name: "exporter otlp", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318",
			"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"},
			tracing: true, endpoint: "http://a:4318", service: "postbode"},
		{name: "exporter none", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318",
			"OTEL_TRACES_EXPORTER": "none"}, service: "postbode"},
		{name: "the traces protocol decides", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318",
			"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf"},
			tracing: true, endpoint: "http://a:4318", service: "postbode"},
		{name: "protocol without endpoint", env: map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, service: "postbode"},
		{name: "other exporter", env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, err: "OTEL_TRACES_EXPORTER"},
		{name: "grpc", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4317",
			"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, err: "OTEL_EXPORTER_OTLP_PROTOCOL"},
		{name: "not a URL", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "collector:4318"},
			err: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Parse(nil, env(c.env), io.Discard)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err %v, want one naming %s", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Tracing != c.tracing || got.TracingEndpoint != c.endpoint || got.ServiceName != c.service {
				t.Errorf("tracing %v endpoint %q service %q, want %v %q %q", got.Tracing, got.TracingEndpoint,
					got.ServiceName, c.tracing, c.endpoint, c.service)
			}
		})
	}
}

// The API reference in Markdown (docs/api-reference.md), rendered from the
// OpenAPI document so that the two say the same.
package api

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Reference returns the API reference as Markdown, built once.
var Reference = sync.OnceValue(func() []byte {
	var doc struct {
		Paths map[string]map[string]struct {
			Tags        []string `json:"tags"`
			Summary     string   `json:"summary"`
			Security    []any    `json:"security"`
			Parameters  []struct{ Name, In, Description string }
			RequestBody *struct {
				Content map[string]struct{ Schema schemaDoc } `json:"content"`
			} `json:"requestBody"`
			Responses map[string]struct {
				Content map[string]struct{ Schema schemaDoc } `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
		Components struct {
			Schemas map[string]schemaDoc `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		panic(err)
	}
	type entry struct{ method, path string }
	byTag := map[string][]entry{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			byTag[op.Tags[0]] = append(byTag[op.Tags[0]], entry{method, path})
		}
	}
	var b strings.Builder
	b.WriteString("# API reference\n\n")
	b.WriteString("Generated from the OpenAPI 3.1 document the server serves at `GET /api/v1/openapi.json` ")
	b.WriteString("(also in [openapi.json](openapi.json)); [api.md](api.md) has the rules every request meets. ")
	b.WriteString("Requests authenticate with `Authorization: Bearer <integration token>` unless said otherwise; ")
	b.WriteString("errors are `{\"error\":{\"code\",\"message\"}}`.\n\n")
	tags := make([]string, 0, len(byTag))
	for t := range byTag {
		tags = append(tags, t)
	}
	sort.Strings(tags)
	for _, tag := range tags {
		fmt.Fprintf(&b, "## %s\n\n", tag)
		entries := byTag[tag]
		sort.Slice(entries, func(i, j int) bool {
			if entries[i].path != entries[j].path {
				return entries[i].path < entries[j].path
			}
			return entries[i].method < entries[j].method
		})
		for _, e := range entries {
			op := doc.Paths[e.path][e.method]
			fmt.Fprintf(&b, "### `%s %s`\n\n%s.\n\n", strings.ToUpper(e.method), e.path, op.Summary)
			switch {
			case op.Security != nil && len(op.Security) == 0:
				b.WriteString("No authentication.\n\n")
			case len(op.Security) == 2:
				b.WriteString("Authentication: the resource's app token (Bearer, or Basic with its username), or an integration token.\n\n")
			}
			for _, p := range op.Parameters {
				if p.In != "path" {
					fmt.Fprintf(&b, "- %s `%s`: %s\n", p.In, p.Name, p.Description)
				}
			}
			if op.RequestBody != nil {
				fmt.Fprintf(&b, "- body: %s\n", op.RequestBody.Content["application/json"].Schema.describe())
			}
			statuses := make([]string, 0, len(op.Responses))
			for s := range op.Responses {
				if s != "default" {
					statuses = append(statuses, s)
				}
			}
			sort.Strings(statuses)
			for _, s := range statuses {
				if c, ok := op.Responses[s].Content["application/json"]; ok {
					fmt.Fprintf(&b, "- answer %s: %s\n", s, c.Schema.describe())
				} else {
					fmt.Fprintf(&b, "- answer %s, no body\n", s)
				}
			}
			b.WriteString("\n")
		}
	}
	b.WriteString("## Schemas\n\n")
	names := make([]string, 0, len(doc.Components.Schemas))
	for n := range doc.Components.Schemas {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "### %s\n\n%s\n\n", n, doc.Components.Schemas[n].describe())
	}
	return []byte(b.String())
})

// schemaDoc is the part of a schema the reference shows.
type schemaDoc struct {
	Ref                  string               `json:"$ref"`
	Type                 any                  `json:"type"`
	Format               string               `json:"format"`
	Properties           map[string]schemaDoc `json:"properties"`
	Required             []string             `json:"required"`
	Items                *schemaDoc           `json:"items"`
	AdditionalProperties *schemaDoc           `json:"additionalProperties"`
	AnyOf                []schemaDoc          `json:"anyOf"`
}

// describe writes a schema in a line: a component's name as a link, an
// object's fields with their types.
func (s schemaDoc) describe() string {
	if s.Ref != "" {
		name := strings.TrimPrefix(s.Ref, "#/components/schemas/")
		return "[" + name + "](#" + strings.ToLower(strings.ReplaceAll(name, ".", "")) + ")"
	}
	if len(s.AnyOf) > 0 {
		return s.AnyOf[0].describe() + " or null"
	}
	typ := fmt.Sprint(s.Type)
	if list, ok := s.Type.([]any); ok {
		typ = fmt.Sprint(list[0]) + " or null"
	}
	switch {
	case s.Properties != nil:
		names := make([]string, 0, len(s.Properties))
		for n := range s.Properties {
			names = append(names, n)
		}
		sort.Strings(names)
		parts := make([]string, len(names))
		for i, n := range names {
			parts[i] = "`" + n + "` " + s.Properties[n].describe()
		}
		return "object {" + strings.Join(parts, ", ") + "}"
	case s.Items != nil:
		return strings.Replace(typ, "array", "array of "+s.Items.describe(), 1)
	case s.AdditionalProperties != nil:
		return strings.Replace(typ, "object", "object of "+s.AdditionalProperties.describe(), 1)
	case s.Type == nil:
		return "any JSON value"
	case s.Format != "":
		return typ + " (" + s.Format + ")"
	}
	return typ
}

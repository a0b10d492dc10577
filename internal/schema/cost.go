package schema

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The library validates by walking the schema graph for every value of the
// data, re-checking a subschema once per path that leads to it; it has no
// memo and no way to stop early. Shared subschemas therefore multiply work:
// {"$defs":{"a":{"allOf":[{"$ref":"#/$defs/b"},{"$ref":"#/$defs/b"}]},...}}
// doubles it per level, and a recursive schema can multiply it per level of
// the data. This file mirrors that walk with counts instead of checks, which
// is polynomial, and stops once the count passes MaxValidationCost.

// graph is the compiled schema as the validator will walk it.
type graph struct {
	nodes []node
	pool  sync.Pool // *walker
}

// node is one compiled subschema with its edges: in-place edges apply
// another subschema to the same value, the others to a member or item.
type node struct {
	inplace  []int32 // $ref, allOf, anyOf, oneOf, not, if/then/else, dependentSchemas
	props    map[string]int32
	patterns []patternEdge
	addl     int32 // additionalProperties, -1 if none
	uneval   int32 // unevaluatedProperties
	names    int32 // propertyNames
	prefix   []int32
	rest     int32   // items after the prefix
	every    []int32 // contains, unevaluatedItems
	topo     int32   // position in a topological order of in-place edges

	base   int64 // units per check, whatever the value
	perKiB int64 // units per KiB of a string value (pattern, format)
	equals bool  // const, enum or uniqueItems: cost grows with the value's size
}

type patternEdge struct {
	re     jsonschema.Regexp
	to     int32
	perKiB int64
}

// regexCost is the units per KiB matched against a pattern of n bytes. Go's
// RE2 is linear in the input, but its constant grows with the pattern
// (measured: 12 ms for ^[a-z]+$ over 1 MB, 45 ms for a 14 KB pattern over
// 200 KB).
func regexCost(n int) int64 { return 64 + int64(n)/8 }

// perKiB charges for a string of n bytes at perKiB units per KiB.
func perKiB(perKiB int64, n int) int64 { return 1 + perKiB*int64(n+64)/1024 }

// analyze builds the graph from the compiled root, refusing what the cost
// model cannot bound: dynamic references, in-place reference cycles, and a
// single value checked more than MaxValidationCost times.
func analyze(root *jsonschema.Schema) (*graph, error) {
	g := &graph{}
	index := map[*jsonschema.Schema]int32{}
	var order []*jsonschema.Schema
	add := func(s *jsonschema.Schema) int32 {
		if s == nil {
			return -1
		}
		if i, ok := index[s]; ok {
			return i
		}
		i := int32(len(order))
		index[s] = i
		order = append(order, s)
		g.nodes = append(g.nodes, node{})
		return i
	}
	add(root)
	for i := 0; i < len(order); i++ {
		s := order[i]
		if s.RecursiveRef != nil || s.DynamicRef != nil {
			if !strings.HasPrefix(s.Location, base) {
				return nil, &CompileError{Message: "refers to a standard meta-schema that uses $dynamicRef or $recursiveRef, which are not supported"}
			}
			return nil, &CompileError{Path: fragment(s.Location),
				Message: "$dynamicRef and $recursiveRef are not supported; use $ref"}
		}
		n := node{addl: -1, uneval: -1, names: -1, rest: -1}
		in := func(t *jsonschema.Schema) {
			if t != nil {
				n.inplace = append(n.inplace, add(t))
			}
		}
		in(s.Ref)
		in(s.Not)
		for _, t := range s.AllOf {
			in(t)
		}
		for _, t := range s.AnyOf {
			in(t)
		}
		for _, t := range s.OneOf {
			in(t)
		}
		in(s.If)
		in(s.Then)
		in(s.Else)
		for _, k := range sortedKeys(s.DependentSchemas) {
			in(s.DependentSchemas[k])
		}
		for _, k := range sortedKeys(s.Dependencies) {
			if t, ok := s.Dependencies[k].(*jsonschema.Schema); ok {
				in(t)
			}
		}
		// Content keywords are not asserted, but count them in place should
		// a schema ever carry them compiled.
		in(s.ContentSchema)

		if len(s.Properties) > 0 {
			n.props = make(map[string]int32, len(s.Properties))
			for _, k := range sortedKeys(s.Properties) {
				n.props[k] = add(s.Properties[k])
			}
		}
		for re, t := range s.PatternProperties {
			n.patterns = append(n.patterns, patternEdge{re: re, to: add(t), perKiB: regexCost(len(re.String()))})
		}
		slices.SortFunc(n.patterns, func(a, b patternEdge) int { return int(a.to - b.to) })
		if t, ok := s.AdditionalProperties.(*jsonschema.Schema); ok {
			n.addl = add(t)
		}
		n.uneval = add(s.UnevaluatedProperties)
		n.names = add(s.PropertyNames)

		switch items := s.Items.(type) {
		case *jsonschema.Schema:
			n.rest = add(items)
		case []*jsonschema.Schema:
			for _, t := range items {
				n.prefix = append(n.prefix, add(t))
			}
			if t, ok := s.AdditionalItems.(*jsonschema.Schema); ok {
				n.rest = add(t)
			}
		case nil:
			if t, ok := s.AdditionalItems.(*jsonschema.Schema); ok {
				n.rest = add(t)
			}
		}
		for _, t := range s.PrefixItems {
			n.prefix = append(n.prefix, add(t))
		}
		if s.Items2020 != nil {
			n.rest = add(s.Items2020)
		}
		if s.Contains != nil {
			n.every = append(n.every, add(s.Contains))
		}
		if s.UnevaluatedItems != nil {
			n.every = append(n.every, add(s.UnevaluatedItems))
		}

		n.base = 1 + int64(len(s.Required)+len(s.DependentRequired))/8
		if s.Enum != nil {
			n.base += int64(len(s.Enum.Values)) / 8
		}
		n.equals = s.Const != nil || s.Enum != nil || s.UniqueItems
		if s.Pattern != nil {
			n.perKiB += regexCost(len(s.Pattern.String()))
		}
		if s.Format != nil {
			// Formats are linear parsers, but "regex" compiles the value
			// (measured: 310 ms for 500 KB).
			n.perKiB += 8
			if s.Format.Name == "regex" {
				n.perKiB += 4096
			}
		}
		g.nodes[i] = n
	}

	if err := g.orderInPlace(order); err != nil {
		return nil, err
	}
	g.pool.New = func() any {
		return &walker{g: g, counts: make([]uint64, len(g.nodes)), mark: make([]uint32, len(g.nodes))}
	}
	return g, nil
}

// orderInPlace sorts the in-place edges topologically (refusing a cycle:
// the library would recurse on the same value until it noticed), counts
// the checks a single value can trigger from each node, and charges each
// node for the depth of in-place nesting above it, which the library walks
// on every check to detect cycles.
func (g *graph) orderInPlace(order []*jsonschema.Schema) error {
	n := len(g.nodes)
	indeg := make([]int, n)
	for _, nd := range g.nodes {
		for _, t := range nd.inplace {
			indeg[t]++
		}
	}
	queue := make([]int32, 0, n)
	for i := range g.nodes {
		if indeg[i] == 0 {
			queue = append(queue, int32(i))
		}
	}
	depth := make([]int64, n)
	for head := 0; head < len(queue); head++ {
		u := queue[head]
		g.nodes[u].topo = int32(head)
		for _, t := range g.nodes[u].inplace {
			depth[t] = max(depth[t], depth[u]+1)
			if indeg[t]--; indeg[t] == 0 {
				queue = append(queue, t)
			}
		}
	}
	if len(queue) < n {
		for i := range g.nodes {
			if indeg[i] > 0 {
				return &CompileError{Path: fragment(order[i].Location),
					Message: "is part of a $ref cycle that never moves into the data, so it would recurse forever"}
			}
		}
	}
	checks := make([]uint64, n)
	for k := len(queue) - 1; k >= 0; k-- {
		u := queue[k]
		c := uint64(1)
		for _, t := range g.nodes[u].inplace {
			c = satAdd(c, checks[t])
		}
		checks[u] = c
		if c > MaxValidationCost {
			return &CompileError{Path: fragment(order[u].Location), Message: fmt.Sprintf(
				"is too complex: checking one value against it would take more than %d subschema checks", MaxValidationCost)}
		}
		g.nodes[u].base += depth[u] / 16
	}
	return nil
}

const saturated = 1 << 62

func satAdd(a, b uint64) uint64 {
	if a+b > saturated || a+b < a {
		return saturated
	}
	return a + b
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// walker holds the scratch space of one check; it is pooled per graph.
type walker struct {
	g      *graph
	counts []uint64 // per node, zero between uses
	mark   []uint32 // per node, == epoch when reached in the current expand
	epoch  uint32
	stack  []pair // arena for the sets of (node, count) being walked
	reach  []int32
	spent  uint64
	path   []step // where the walk is, for a number error
	err    *ValidationError
}

// step is one token of the path: a member name, or an index when key is
// empty and index >= 0 (so that arrays cost no string conversion).
type step struct {
	key   string
	index int
}

func (w *walker) pointer() string {
	tokens := make([]string, len(w.path))
	for i, s := range w.path {
		tokens[i] = s.key
		if s.index >= 0 {
			tokens[i] = strconv.Itoa(s.index)
		}
	}
	return pointer(tokens)
}

type pair struct {
	node  int32
	count uint64
}

// check bounds the work of validating v, and refuses numbers the library
// would choke on, at the places where the schema looks at them.
func (g *graph) check(v any) *ValidationError {
	w := g.pool.Get().(*walker)
	w.spent, w.err, w.path = 0, nil, w.path[:0]
	w.stack = append(w.stack[:0], pair{0, 1})
	w.visit(v, w.stack[:1])
	err := w.err
	w.stack = w.stack[:0]
	g.pool.Put(w)
	return err
}

func (w *walker) charge(count uint64, units int64) {
	if w.err != nil {
		return
	}
	if units < 1 {
		units = 1
	}
	if count > MaxValidationCost || uint64(units) > MaxValidationCost {
		w.spent = saturated
	} else {
		w.spent += count * uint64(units)
	}
	if w.spent > MaxValidationCost {
		w.err = &ValidationError{err: ErrTooComplex, Message: fmt.Sprintf(
			"is too large or too deeply nested to check against this schema (more than %d units of work)", MaxValidationCost)}
	}
}

// visit charges the checks of v by the subschemas in active (with their
// multiplicities) and by everything they apply in place, then descends.
func (w *walker) visit(v any, active []pair) {
	closure := w.expand(active)
	if w.err != nil {
		return
	}
	var per int64 = 1
	switch v := v.(type) {
	case map[string]any:
		per += int64(len(v))
	case []any:
		per += int64(len(v))
	case string:
		per += int64(len(v)) / 1024
	case json.Number:
		lit := string(v)
		if !numberWithin(lit, MaxNumberLen, MaxNumberExponent) {
			w.err = &ValidationError{Path: w.pointer(), Message: fmt.Sprintf(
				"number is too long or too large to check (at most %d characters and an exponent within ±%d)",
				MaxNumberLen, MaxNumberExponent)}
			return
		}
		// The library parses numbers as exact rationals, once per check:
		// ~20 µs for an exponent of 10000.
		per += int64(len(lit))/32 + int64(abs(exponent(lit)))/64
	}
	for _, p := range closure {
		nd := &w.g.nodes[p.node]
		units := nd.base + per
		if s, ok := v.(string); ok && nd.perKiB > 0 {
			units += perKiB(nd.perKiB, len(s))
		}
		w.charge(p.count, units)
	}
	if w.err != nil {
		return
	}

	switch v := v.(type) {
	case map[string]any:
		for k, member := range v {
			mark := len(w.stack)
			for _, p := range closure {
				nd := &w.g.nodes[p.node]
				matched := false
				if t, ok := nd.props[k]; ok {
					w.stack = append(w.stack, pair{t, p.count})
					matched = true
				}
				for _, pe := range nd.patterns {
					w.charge(p.count, perKiB(pe.perKiB, len(k)))
					if w.err != nil {
						return
					}
					if pe.re.MatchString(k) {
						w.stack = append(w.stack, pair{pe.to, p.count})
						matched = true
					}
				}
				if !matched && nd.addl >= 0 {
					w.stack = append(w.stack, pair{nd.addl, p.count})
				}
				if nd.uneval >= 0 {
					w.stack = append(w.stack, pair{nd.uneval, p.count})
				}
			}
			if len(w.stack) > mark {
				w.path = append(w.path, step{k, -1})
				w.visit(member, w.stack[mark:])
				w.path = w.path[:len(w.path)-1]
			}
			w.stack = w.stack[:mark]
			if w.err != nil {
				return
			}
		}
		// propertyNames checks each key as a string value.
		for _, p := range closure {
			if t := w.g.nodes[p.node].names; t >= 0 {
				for k := range v {
					mark := len(w.stack)
					w.stack = append(w.stack, pair{t, p.count})
					w.visit(k, w.stack[mark:])
					w.stack = w.stack[:mark]
					if w.err != nil {
						return
					}
				}
			}
		}
	case []any:
		for i, item := range v {
			mark := len(w.stack)
			for _, p := range closure {
				nd := &w.g.nodes[p.node]
				if i < len(nd.prefix) {
					w.stack = append(w.stack, pair{nd.prefix[i], p.count})
				} else if nd.rest >= 0 {
					w.stack = append(w.stack, pair{nd.rest, p.count})
				}
				for _, t := range nd.every {
					w.stack = append(w.stack, pair{t, p.count})
				}
			}
			if len(w.stack) > mark {
				w.path = append(w.path, step{"", i})
				w.visit(item, w.stack[mark:])
				w.path = w.path[:len(w.path)-1]
			}
			w.stack = w.stack[:mark]
			if w.err != nil {
				return
			}
		}
	}
	// const, enum and uniqueItems compare or hash the whole value.
	var size int64
	for _, p := range closure {
		if w.g.nodes[p.node].equals {
			if size == 0 {
				size = values(v)
			}
			w.charge(p.count, size)
		}
	}
}

// values counts the JSON values in v.
func values(v any) int64 {
	n := int64(1)
	switch v := v.(type) {
	case map[string]any:
		for _, e := range v {
			n += values(e)
		}
	case []any:
		for _, e := range v {
			n += values(e)
		}
	}
	return n
}

// expand returns the subschemas checked against one value: active plus
// everything reachable from it through in-place edges, each with the
// number of paths that reach it, which is how often the library checks it.
// The result lives on w.stack.
func (w *walker) expand(active []pair) []pair {
	nodes := w.g.nodes
	simple := true
	for _, p := range active {
		if len(nodes[p.node].inplace) > 0 {
			simple = false
			break
		}
	}
	if simple && len(active) == 1 {
		return active
	}
	w.epoch++
	if w.epoch == 0 { // wrapped: forget old marks
		clear(w.mark)
		w.epoch = 1
	}
	reach := w.reach[:0]
	for _, p := range active {
		if w.mark[p.node] != w.epoch {
			w.mark[p.node] = w.epoch
			reach = append(reach, p.node)
		}
		w.counts[p.node] = satAdd(w.counts[p.node], p.count)
	}
	for i := 0; i < len(reach); i++ {
		for _, t := range nodes[reach[i]].inplace {
			if w.mark[t] != w.epoch {
				w.mark[t] = w.epoch
				reach = append(reach, t)
			}
		}
	}
	// Every reached node is checked at least once: bound the work of this
	// expansion itself before sorting.
	w.charge(uint64(len(reach)), 1)
	if !simple {
		slices.SortFunc(reach, func(a, b int32) int { return int(nodes[a].topo - nodes[b].topo) })
		for _, u := range reach {
			for _, t := range nodes[u].inplace {
				w.counts[t] = satAdd(w.counts[t], w.counts[u])
			}
		}
	}
	start := len(w.stack)
	for _, u := range reach {
		w.stack = append(w.stack, pair{u, w.counts[u]})
		w.counts[u] = 0
	}
	w.reach = reach
	return w.stack[start:]
}

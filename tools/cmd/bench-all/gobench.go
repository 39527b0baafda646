package main

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// benchLine is one line of `go test -bench` output.
type benchLine struct {
	name    string // without the -GOMAXPROCS suffix
	metrics map[string]float64
}

var benchRE = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

// parseBench reads go test -bench output. Lines that are not benchmark
// results are ignored.
func parseBench(r io.Reader) []benchLine {
	var out []benchLine
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		m := benchRE.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		fields := strings.Fields(m[2])
		bl := benchLine{name: m[1], metrics: map[string]float64{}}
		for i := 0; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				break
			}
			bl.metrics[fields[i+1]] = v
		}
		if _, ok := bl.metrics["ns/op"]; ok {
			out = append(out, bl)
		}
	}
	return out
}

// row is one benchmark's medians over its runs.
type row struct {
	group, impl string
	runs        int
	metrics     map[string]float64
	ns          []float64 // ns/op of each run, in run order
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// splitName returns the comparison group and the implementation: the
// implementation is the first sub-benchmark element (the convention of the
// tools/bench packages: Benchmark<Op>/<implementation>/<variant...>).
func splitName(name string) (group, impl string) {
	parts := strings.Split(name, "/")
	if len(parts) == 1 {
		return name, ""
	}
	rest := append([]string{parts[0]}, parts[2:]...)
	return strings.Join(rest, "/"), parts[1]
}

// summarize folds repeated runs into medians, keeping first-seen order.
func summarize(lines []benchLine) []row {
	type acc struct {
		group, impl string
		vals        map[string][]float64
	}
	var order []string
	accs := map[string]*acc{}
	for _, l := range lines {
		a := accs[l.name]
		if a == nil {
			g, i := splitName(l.name)
			a = &acc{group: g, impl: i, vals: map[string][]float64{}}
			accs[l.name] = a
			order = append(order, l.name)
		}
		for k, v := range l.metrics {
			a.vals[k] = append(a.vals[k], v)
		}
	}
	var rows []row
	for _, name := range order {
		a := accs[name]
		r := row{group: a.group, impl: a.impl, metrics: map[string]float64{}, ns: a.vals["ns/op"]}
		for k, vs := range a.vals {
			r.metrics[k] = median(vs)
			r.runs = max(r.runs, len(vs))
		}
		rows = append(rows, r)
	}
	return rows
}

// pairedRatio is the median over runs of r's ns/op ÷ a's in the same run
// (the i-th result of each), over the runs both have.
func pairedRatio(r, a row) float64 {
	n := min(len(r.ns), len(a.ns))
	if n == 0 {
		return r.metrics["ns/op"] / a.metrics["ns/op"]
	}
	q := make([]float64, n)
	for i := range q {
		q[i] = r.ns[i] / a.ns[i]
	}
	return median(q)
}

// anchorOf picks the row the others in its group are compared with: the
// implementation named exactly "gridkv", else the first whose name starts
// with "gridkv", else the first row.
func anchorOf(rows []row) int {
	for i, r := range rows {
		if r.impl == "gridkv" {
			return i
		}
	}
	for i, r := range rows {
		if strings.HasPrefix(r.impl, "gridkv") {
			return i
		}
	}
	return 0
}

// writeBenchTables renders rows as one Markdown table per group.
func writeBenchTables(w io.Writer, rows []row) {
	var groups []string
	byGroup := map[string][]row{}
	for _, r := range rows {
		if _, ok := byGroup[r.group]; !ok {
			groups = append(groups, r.group)
		}
		byGroup[r.group] = append(byGroup[r.group], r)
	}
	for _, g := range groups {
		rs := byGroup[g]
		a := rs[anchorOf(rs)]
		fmt.Fprintf(w, "\n**%s** (anchor: %s)\n\n", g, orDash(a.impl))
		fmt.Fprintln(w, "| implementation | ns/op | anchor ns/op | ratio (÷ anchor) | B/op | allocs/op | other (medians) | runs |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---|---:|")
		for _, r := range rs {
			ns := r.metrics["ns/op"]
			var extra []string
			for k, v := range r.metrics {
				if k != "ns/op" && k != "B/op" && k != "allocs/op" {
					extra = append(extra, fmt.Sprintf("%s %s", num(v), k))
				}
			}
			sort.Strings(extra)
			fmt.Fprintf(w, "| %s | %s | %s | %.2f | %s | %s | %s | %d |\n", orDash(r.impl), num(ns), num(a.metrics["ns/op"]),
				pairedRatio(r, a), optNum(r.metrics, "B/op"), optNum(r.metrics, "allocs/op"), strings.Join(extra, ", "), r.runs)
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func optNum(m map[string]float64, k string) string {
	if v, ok := m[k]; ok {
		return num(v)
	}
	return "—"
}

func num(v float64) string {
	switch {
	case v == float64(int64(v)) && v < 1e12:
		return strconv.FormatInt(int64(v), 10)
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

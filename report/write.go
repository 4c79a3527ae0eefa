package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Formats the writers accept.
var Formats = []string{"html", "md", "json", "csv"}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteMarkdown writes the report as GitHub-flavoured Markdown: a heading
// and a pipe table per table (charts are in the HTML only).
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\n\n", mdEscape(r.Title))
	fmt.Fprintf(&b, "%s\n\n", mdEscape(r.byline()))
	for _, t := range r.Tables() {
		fmt.Fprintf(&b, "## %s\n\n", mdEscape(t.Title))
		if t.Note != "" {
			fmt.Fprintf(&b, "_%s_\n\n", mdEscape(t.Note))
		}
		if len(t.Rows) == 0 {
			b.WriteString("None.\n\n")
			continue
		}
		b.WriteString("|")
		for _, c := range t.Columns {
			fmt.Fprintf(&b, " %s |", mdEscape(c))
		}
		b.WriteString("\n|")
		for range t.Columns {
			b.WriteString(" --- |")
		}
		b.WriteString("\n")
		for _, row := range t.Rows {
			b.WriteString("|")
			for _, c := range row {
				fmt.Fprintf(&b, " %s |", mdEscape(c))
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	_, err := w.Write(b.Bytes())
	return err
}

// mdEscape keeps a cell on one line and its pipes out of the table syntax.
func mdEscape(s string) string {
	s = strings.ReplaceAll(s, "\\", "\\\\")
	s = strings.ReplaceAll(s, "|", "\\|")
	s = strings.ReplaceAll(s, "\r", " ")
	return strings.ReplaceAll(s, "\n", " ")
}

// WriteCSV writes one table as CSV, header first.
func WriteCSV(w io.Writer, t *Table) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(t.Columns); err != nil {
		return err
	}
	if err := cw.WriteAll(t.Rows); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// WriteCSVDir writes every table to dir/NAME.csv (dir is created) and
// returns the files written, in table order.
func (r *Report) WriteCSVDir(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var files []string
	for _, t := range r.Tables() {
		var b bytes.Buffer
		if err := WriteCSV(&b, t); err != nil {
			return files, err
		}
		p := filepath.Join(dir, t.Name+".csv")
		if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
			return files, err
		}
		files = append(files, p)
	}
	return files, nil
}

func (r *Report) byline() string {
	s := fmt.Sprintf("Plan %s, from the %s; data from %s to %s; generated %s.", r.Plan, r.Source, ts(r.From), ts(r.AsOf), ts(r.GeneratedAt))
	if sim := r.Simulation; sim != nil {
		if sim.Scenario != "" {
			s += " Scenario " + sim.Scenario + "."
		}
		s += fmt.Sprintf(" Planner every %s; findings are about the %s policy.", time.Duration(sim.IntervalSeconds*float64(time.Second)), sim.Primary)
	}
	return s
}

// htmlSection is a table and the charts that follow it.
type htmlSection struct {
	ID      string
	Table   *Table
	Charts  []template.HTML
	Numeric []bool
}

// WriteHTML writes the report as one self-contained HTML file: inline
// stylesheet, inline SVG charts, a small inline script that sorts a table
// by the clicked column; nothing is loaded from anywhere. It prints
// readably (the contents list and the sort hints are hidden).
func (r *Report) WriteHTML(w io.Writer) error {
	const width, height = 640, 220
	render := func(cs []*Chart) ([]template.HTML, error) {
		var out []template.HTML
		for _, c := range cs {
			if c == nil {
				continue
			}
			s, err := c.SVG(width, height)
			if err != nil {
				return nil, err
			}
			out = append(out, template.HTML(`<figure class="chart">`+s+`</figure>`)) // #nosec: SVG drawn by gonum/plot from our numbers, text escaped by it
		}
		return out, nil
	}
	var sections []htmlSection
	for _, t := range r.Tables() {
		s := htmlSection{ID: t.Name, Table: t, Numeric: numericColumns(t)}
		var cs []*Chart
		switch t.Name {
		case TablePolicies:
			cs = r.Simulation.charts
		case TableWorkloads, TableSimWorkloads:
			for i := range r.Workloads {
				cs = append(cs, r.Workloads[i].chart)
			}
		case TablePools, TableSimPools:
			for i := range r.Pools {
				cs = append(cs, r.Pools[i].chart)
			}
		case TableQuotas:
			for i := range r.Quotas {
				cs = append(cs, r.Quotas[i].chart)
			}
		}
		var err error
		if s.Charts, err = render(cs); err != nil {
			return err
		}
		sections = append(sections, s)
	}
	var b bytes.Buffer
	err := page.Execute(&b, struct {
		R        *Report
		Byline   string
		Sections []htmlSection
		Style    template.CSS
		Script   template.JS
	}{r, r.byline(), sections, template.CSS(style), template.JS(script)})
	if err != nil {
		return err
	}
	_, err = w.Write(b.Bytes())
	return err
}

// numericColumns marks the columns whose cells are all numbers or "-".
func numericColumns(t *Table) []bool {
	out := make([]bool, len(t.Columns))
	for j := range t.Columns {
		ok, any := true, false
		for _, row := range t.Rows {
			c := row[j]
			if c == "-" || c == "" {
				continue
			}
			if _, err := strconv.ParseFloat(c, 64); err != nil {
				ok = false
				break
			}
			any = true
		}
		out[j] = ok && any
	}
	return out
}

const style = `
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:1.5rem auto;max-width:75rem;padding:0 1rem;color:#1b1b1b;line-height:1.4}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ccc}
.byline{color:#555;margin-top:0}.note{color:#555;font-style:italic;margin:.2rem 0 .5rem}
nav ul{columns:3;list-style:none;padding:0}nav a{color:#1f4e9b}
.wrap{overflow-x:auto}table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0;width:100%}
th,td{border:1px solid #ddd;padding:.2rem .4rem;text-align:left;vertical-align:top}
th{background:#f2f4f7;cursor:pointer;user-select:none}th[aria-sort=ascending]::after{content:" \25B2"}th[aria-sort=descending]::after{content:" \25BC"}
td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.critical td:first-child{background:#f8d7da;font-weight:bold}tr.warning td:first-child{background:#fff3cd}tr.info td:first-child{background:#e7f1ff}
.charts{display:flex;flex-wrap:wrap;gap:.5rem}figure.chart{margin:0;border:1px solid #eee}figure.chart svg{display:block;max-width:100%;height:auto}
.none{color:#555}
@media print{nav,.hint{display:none}body{max-width:none;margin:0}th{cursor:auto}h2{break-after:avoid}figure.chart,tr{break-inside:avoid}a{color:inherit;text-decoration:none}}
`

const script = `
(function(){
function val(c){return c.getAttribute('data-v')!==null?c.getAttribute('data-v'):c.textContent}
document.querySelectorAll('table.sortable').forEach(function(t){
var hs=t.tHead.rows[0].cells;
Array.prototype.forEach.call(hs,function(th,i){th.addEventListener('click',function(){
var b=t.tBodies[0],rows=Array.prototype.slice.call(b.rows),asc=th.getAttribute('aria-sort')!=='ascending',numeric=th.classList.contains('n');
rows.sort(function(a,c){var x=val(a.cells[i]),y=val(c.cells[i]);
if(numeric){x=x==='-'?-Infinity:parseFloat(x);y=y==='-'?-Infinity:parseFloat(y);return asc?x-y:y-x}
return asc?x.localeCompare(y):y.localeCompare(x)});
rows.forEach(function(r){b.appendChild(r)});
Array.prototype.forEach.call(hs,function(h){h.removeAttribute('aria-sort')});
th.setAttribute('aria-sort',asc?'ascending':'descending');});});});
})();
`

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"isNum": func(n []bool, i int) bool { return i < len(n) && n[i] },
	"rowClass": func(t *Table, row []string) string {
		if t.Name == TableFindings && len(row) > 0 {
			return row[0]
		}
		return ""
	},
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.R.Title}}</title>
<style>{{.Style}}</style>
</head>
<body>
<header>
<h1>{{.R.Title}}</h1>
<p class="byline">{{.Byline}}</p>
</header>
<nav aria-label="contents"><ul>{{range .Sections}}<li><a href="#{{.ID}}">{{.Table.Title}}</a></li>{{end}}</ul></nav>
<p class="hint">Click a column heading to sort the table by it.</p>
<main>
{{range .Sections}}<section id="{{.ID}}">
<h2>{{.Table.Title}}</h2>
{{if .Table.Note}}<p class="note">{{.Table.Note}}</p>{{end}}
{{if .Table.Rows}}<div class="wrap"><table class="sortable" data-name="{{.Table.Name}}">
<thead><tr>{{$n := .Numeric}}{{range $i, $c := .Table.Columns}}<th{{if isNum $n $i}} class="n"{{end}} scope="col">{{$c}}</th>{{end}}</tr></thead>
<tbody>
{{$t := .Table}}{{range .Table.Rows}}<tr{{with rowClass $t .}} class="{{.}}"{{end}}>{{range $i, $c := .}}<td{{if isNum $n $i}} class="n"{{end}}>{{$c}}</td>{{end}}</tr>
{{end}}</tbody>
</table></div>{{else}}<p class="none">None.</p>{{end}}
{{if .Charts}}<div class="charts">{{range .Charts}}{{.}}{{end}}</div>{{end}}
</section>
{{end}}</main>
<script>{{.Script}}</script>
</body>
</html>
`))

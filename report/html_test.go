package report

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// checkHTML parses doc strictly enough to catch broken markup: the
// tokenizer must reach the end without an error, every element that is
// opened must be closed in order (void elements and SVG self-closing tags
// aside), and nothing may be loaded from elsewhere: no src or href to
// http(s) or //, no @import, no url() but a fragment.
func checkHTML(t *testing.T, doc []byte) {
	t.Helper()
	for _, p := range htmlProblems(doc) {
		t.Error(p)
	}
}

func htmlProblems(doc []byte) (out []string) {
	void := map[string]bool{"meta": true, "br": true, "img": true, "hr": true, "input": true, "link": true, "col": true, "source": true, "wbr": true, "area": true, "base": true, "embed": true, "track": true, "param": true}
	z := html.NewTokenizer(bytes.NewReader(doc))
	var stack []string
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			if err := z.Err(); err.Error() != "EOF" {
				return append(out, fmt.Sprintf("tokenizer: %v", err))
			}
			break
		}
		tok := z.Token()
		switch tt {
		case html.StartTagToken:
			if !void[tok.Data] {
				stack = append(stack, tok.Data)
			}
		case html.EndTagToken:
			if len(stack) == 0 || stack[len(stack)-1] != tok.Data {
				return append(out, fmt.Sprintf("</%s> closes %v", tok.Data, stack))
			}
			stack = stack[:len(stack)-1]
		}
		if tt == html.StartTagToken || tt == html.SelfClosingTagToken {
			for _, a := range tok.Attr {
				if a.Namespace != "" || a.Key == "xmlns" || strings.HasPrefix(a.Key, "xmlns:") {
					continue
				}
				v := strings.ToLower(strings.TrimSpace(a.Val))
				if (a.Key == "src" || a.Key == "href" || a.Key == "xlink:href" || a.Key == "action") && !strings.HasPrefix(v, "#") {
					out = append(out, fmt.Sprintf("<%s %s=%q>: a reference outside the document", tok.Data, a.Key, a.Val))
				}
			}
		}
	}
	if len(stack) > 0 {
		return append(out, fmt.Sprintf("unclosed elements %v", stack))
	}
	for _, re := range []*regexp.Regexp{regexp.MustCompile(`(?i)@import`), regexp.MustCompile(`(?i)url\(\s*['"]?[^#'")\s]`), regexp.MustCompile(`(?i)(src|href)\s*=\s*['"]?\s*(https?:)?//`)} {
		if m := re.Find(doc); m != nil {
			out = append(out, fmt.Sprintf("external reference %q", m))
		}
	}
	// The tree parser must accept it too, with the tables and charts in place.
	root, err := html.Parse(bytes.NewReader(doc))
	if err != nil {
		return append(out, err.Error())
	}
	if countElements(root, "table") == 0 {
		out = append(out, "no table")
	}
	return out
}

func countElements(n *html.Node, name string) int {
	c := 0
	if n.Type == html.ElementNode && n.Data == name {
		c++
	}
	for k := n.FirstChild; k != nil; k = k.NextSibling {
		c += countElements(k, name)
	}
	return c
}

func TestHTMLSimulation(t *testing.T) {
	r := simReport(t)
	var b bytes.Buffer
	if err := r.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	checkHTML(t, b.Bytes())
	root, _ := html.Parse(bytes.NewReader(b.Bytes()))
	// 3 policy charts + cost, 2 workload charts, 2 pool charts.
	if got := countElements(root, "svg"); got != 8 {
		t.Errorf("%d SVG charts, want 8", got)
	}
	if got, want := countElements(root, "table"), len(r.Tables()); got != want {
		t.Errorf("%d tables, want %d", got, want)
	}
	var again bytes.Buffer
	if err := r.WriteHTML(&again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), again.Bytes()) {
		t.Error("two renderings of the same report differ")
	}
}

// The checker itself must catch what it is there to catch.
func TestCheckHTMLCatches(t *testing.T) {
	for _, doc := range []string{
		`<html><body><script src="https://cdn.example/x.js"></script></body></html>`,
		`<html><head><style>@import "x.css";</style></head><body></body></html>`,
		`<html><body><div style="background:url(//x/y.png)"></div><table></table></body></html>`,
		`<html><body><div><span></div></body></html>`,
	} {
		if len(htmlProblems([]byte(doc))) == 0 {
			t.Errorf("checkHTML accepted %s", doc)
		}
	}
}

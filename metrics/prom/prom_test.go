package prom

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/metrics"
)

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func TestChunks(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps int // points in the window, ends included
		max   int
		want  int
	}{
		{"one point", 1, 11000, 1},
		{"exactly max", 11000, 11000, 1},
		{"one over", 11001, 11000, 2},
		{"three chunks", 25, 10, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := metrics.Window{Start: t0, End: t0.Add(time.Duration(tc.steps-1) * time.Minute), Step: time.Minute}
			cs := Chunks(w, tc.max)
			if len(cs) != tc.want {
				t.Fatalf("%d chunks, want %d", len(cs), tc.want)
			}
			// Every step exactly once, in order, no chunk over max.
			next := t0
			for _, c := range cs {
				n := int(c.End.Sub(c.Start)/time.Minute) + 1
				if !c.Start.Equal(next) || n > tc.max {
					t.Fatalf("chunk %v..%v (%d points), want start %v", c.Start, c.End, n, next)
				}
				next = c.End.Add(time.Minute)
			}
			if !next.Equal(w.End.Add(time.Minute)) {
				t.Fatalf("chunks end at %v, want %v", next, w.End)
			}
		})
	}
}

// fakeProm answers query_range with the handler's status/body for each request number.
func fakeProm(t *testing.T, h func(n int, r *http.Request) (int, string)) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/api/v1/query_range") {
			http.NotFound(w, r)
			return
		}
		r.ParseForm()
		code, body := h(int(n.Add(1)), r)
		if code == -1 { // drop the connection half-way through a body
			hj, _ := w.(http.Hijacker)
			c, buf, _ := hj.Hijack()
			fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n%s", body[:len(body)/2])
			buf.Flush()
			c.Close()
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

const okBody = `{"status":"success","data":{"resultType":"matrix","result":[
 {"metric":{"namespace":"shop","workload_kind":"Deployment","workload":"web"},"values":[[1772323200,"1.5"],[1772323260,"2"]]}]}}`

type sleeps struct{ d []time.Duration }

func (s *sleeps) sleep(_ context.Context, d time.Duration) error { s.d = append(s.d, d); return nil }

func TestRetries(t *testing.T) {
	w := metrics.Window{Start: t0, End: t0.Add(time.Minute), Step: time.Minute}
	for _, tc := range []struct {
		name      string
		responses []int // status per attempt; 200 = okBody, -1 = connection dropped mid-body
		retries   int
		wantErr   error // nil: success
		attempts  int
	}{
		{"503 then ok", []int{503, 200}, 4, nil, 2},
		{"500 502 504 then ok", []int{500, 502, 504, 200}, 4, nil, 4},
		{"dropped connection then ok", []int{-1, 200}, 4, nil, 2},
		{"always 503", []int{503, 503, 503}, 2, metrics.ErrUnavailable, 3},
		{"422 bad query is not retried", []int{422}, 4, errBadData, 1},
		{"400 is not retried", []int{400}, 4, errBadData, 1},
		{"404 is not retried", []int{404}, 4, errClient, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, n := fakeProm(t, func(i int, _ *http.Request) (int, string) {
				code := tc.responses[min(i, len(tc.responses))-1]
				switch code {
				case 200, -1:
					return code, okBody
				case 400, 422:
					return code, `{"status":"error","errorType":"bad_data","error":"parse error"}`
				}
				return code, "upstream trouble"
			})
			var sl sleeps
			s, err := New(Options{URL: srv.URL, Retries: tc.retries, Sleep: sl.sleep, CPU: "up", Memory: "up"})
			if err != nil {
				t.Fatal(err)
			}
			s.tmpl = s.tmpl[:1]
			b, err := s.Collect(context.Background(), w)
			if int(n.Load()) != tc.attempts {
				t.Errorf("%d attempts, want %d", n.Load(), tc.attempts)
			}
			if len(sl.d) != tc.attempts-1 {
				t.Errorf("slept %v, want %d sleeps", sl.d, tc.attempts-1)
			}
			for i := 1; i < len(sl.d); i++ {
				if sl.d[i] != 2*sl.d[i-1] {
					t.Errorf("backoff %v is not doubling", sl.d)
				}
			}
			if tc.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if b.Samples() != 2 || b.Series[0].Key.String() != "Deployment/shop/web/cpu" || b.Series[0].Points[0].V != 1.5 {
					t.Fatalf("batch %+v", b.Series)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			if tc.wantErr == errBadData || tc.wantErr == errClient {
				if !strings.Contains(err.Error(), map[error]string{errBadData: "parse error", errClient: "404"}[tc.wantErr]) || Retryable(err) {
					t.Fatalf("%v", err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("%v, want %v", err, tc.wantErr)
			}
		})
	}
}

var errBadData, errClient = errors.New("bad data"), errors.New("client")

func TestTimeoutPerRequest(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			select { // hang until the client gives up
			case <-r.Context().Done():
			case <-time.After(300 * time.Millisecond):
			}
			return
		}
		fmt.Fprint(w, okBody)
	}))
	defer srv.Close()
	var sl sleeps
	s, _ := New(Options{URL: srv.URL, Timeout: 50 * time.Millisecond, Sleep: sl.sleep, CPU: "up", Memory: "up"})
	s.tmpl = s.tmpl[:1]
	b, err := s.Collect(context.Background(), metrics.Window{Start: t0, End: t0.Add(time.Minute), Step: time.Minute})
	if err != nil || b.Samples() != 2 || len(sl.d) != 1 {
		t.Fatalf("%v, %d sleeps", err, len(sl.d))
	}
}

func TestPartialAndBadData(t *testing.T) {
	w := metrics.Window{Start: t0, End: t0.Add(time.Minute), Step: time.Minute}
	// Partial data: Prometheus answers with warnings; they come back in the batch.
	srv, _ := fakeProm(t, func(int, *http.Request) (int, string) {
		return 200, strings.Replace(okBody, `"status":"success",`, `"status":"success","warnings":["remote read: store-gateway unavailable, partial response"],`, 1)
	})
	s, _ := New(Options{URL: srv.URL, CPU: "up", Memory: "up"})
	s.tmpl = s.tmpl[:1]
	b, err := s.Collect(context.Background(), w)
	if err != nil || len(b.Warnings) != 1 || !strings.Contains(b.Warnings[0], "partial response") {
		t.Fatalf("%v %q", err, b.Warnings)
	}
	// A result without the workload labels is an error naming the series.
	srv, _ = fakeProm(t, func(int, *http.Request) (int, string) {
		return 200, `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"pod":"x"},"values":[[1772323200,"1"]]}]}}`
	})
	s, _ = New(Options{URL: srv.URL, CPU: "up", Memory: "up"})
	s.tmpl = s.tmpl[:1]
	if _, err := s.Collect(context.Background(), w); !errors.Is(err, metrics.ErrInvalid) || !strings.Contains(err.Error(), `pod="x"`) {
		t.Fatalf("%v", err)
	}
	// NaN samples (a rate over a counter reset gap) are dropped.
	srv, _ = fakeProm(t, func(int, *http.Request) (int, string) {
		return 200, strings.Replace(okBody, `"2"`, `"NaN"`, 1)
	})
	s, _ = New(Options{URL: srv.URL, CPU: "up", Memory: "up"})
	s.tmpl = s.tmpl[:1]
	if b, err := s.Collect(context.Background(), w); err != nil || b.Samples() != 1 {
		t.Fatalf("%v %v", b, err)
	}
	// Unreachable: connection refused is retried, then ErrUnavailable.
	srv.Close()
	var sl sleeps
	s, _ = New(Options{URL: srv.URL, Sleep: sl.sleep, Retries: 2})
	if _, err := s.Collect(context.Background(), w); !errors.Is(err, metrics.ErrUnavailable) || len(sl.d) != 2 {
		t.Fatalf("%v after %d sleeps", err, len(sl.d))
	}
}

func TestQueriesAndWorkloadOverrides(t *testing.T) {
	var queries []string
	srv, _ := fakeProm(t, func(_ int, r *http.Request) (int, string) {
		queries = append(queries, r.Form.Get("query"))
		if strings.HasPrefix(r.Form.Get("query"), "custom") {
			return 200, `{"status":"success","data":{"resultType":"matrix","result":[
			 {"metric":{"a":"1"},"values":[[1772323200,"1"]]},{"metric":{"a":"2"},"values":[[1772323200,"2"]]}]}}`
		}
		return 200, okBody
	})
	api := metrics.Workload{Kind: "Deployment", Namespace: "shop", Name: "api"}
	s, err := New(Options{URL: srv.URL, Namespaces: []string{"shop", "a.b"},
		Workloads: []WorkloadQuery{{Workload: api, Resource: metrics.CPU, Query: `custom{x="{{.Rate}}"}`}}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Collect(context.Background(), metrics.Window{Start: t0, End: t0.Add(time.Minute), Step: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if len(queries) != 3 || !strings.Contains(queries[0], `namespace=~"shop|a\\.b"`) || !strings.Contains(queries[0], "[5m]") ||
		!strings.Contains(queries[1], "container_memory_working_set_bytes") || queries[2] != `custom{x="5m"}` ||
		!strings.HasSuffix(queries[0], `) unless on (namespace, workload_kind, workload) (label_replace(label_replace(label_replace(vector(1), "namespace", "shop", "", ""), "workload_kind", "Deployment", "", ""), "workload", "api", "", ""))`) ||
		strings.Contains(queries[1], "unless") {
		t.Fatalf("queries:\n%s", strings.Join(queries, "\n---\n"))
	}
	last := b.Series[len(b.Series)-1]
	if last.Key.Workload != api || len(last.Points) != 1 || last.Points[0].V != 3 {
		t.Fatalf("override series %+v", last)
	}
	if _, err := New(Options{URL: srv.URL, CPU: "{{.Nope"}); !errors.Is(err, metrics.ErrInvalid) {
		t.Fatalf("bad template: %v", err)
	}
}

func TestProgress(t *testing.T) {
	srv, _ := fakeProm(t, func(int, *http.Request) (int, string) { return 200, okBody })
	var got []string
	s, err := New(Options{URL: srv.URL, MaxPoints: 3, Progress: func(done, total int, what string) {
		got = append(got, fmt.Sprintf("%d/%d %s", done, total, what))
	}})
	if err != nil {
		t.Fatal(err)
	}
	// 4 steps in chunks of 3: two requests per query, cpu then memory.
	if _, err := s.Collect(context.Background(), metrics.Window{Start: t0, End: t0.Add(3 * time.Minute), Step: time.Minute}); err != nil {
		t.Fatal(err)
	}
	want := []string{"0/4 cpu from 2026-03-01 00:00", "1/4 cpu from 2026-03-01 00:03", "2/4 cpu",
		"2/4 memory from 2026-03-01 00:00", "3/4 memory from 2026-03-01 00:03", "4/4 memory"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("progress %q\nwant     %q", got, want)
	}
}

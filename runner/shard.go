package runner

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/headroom-dev/headroom/policy"
)

// Shard is this process's share of the workloads: Index of Count (the zero
// value, and Count 1, is everything). A workload belongs to shard
// FNV-1a-32("kind/namespace/name") mod Count, so the share of a workload
// never depends on the others: adding one to the plan moves no other.
type Shard struct {
	Index, Count int
}

// ParseShard reads "i/N" (0 ≤ i < N).
func ParseShard(s string) (Shard, error) {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return Shard{}, fmt.Errorf("shard %q: want i/N with 0 ≤ i < N", s)
	}
	return Shard{Index: i, Count: n}, nil
}

// String is "i/N".
func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, max(1, s.Count)) }

// Owns reports whether the target is in this shard.
func (s Shard) Owns(t policy.Target) bool {
	if s.Count <= 1 {
		return true
	}
	return ShardOf(t, s.Count) == s.Index
}

// ShardOf is the shard of a target among n.
func ShardOf(t policy.Target, n int) int {
	h := fnv.New32a()
	h.Write([]byte(t.Kind + "/" + t.Namespace + "/" + t.Name))
	return int(h.Sum32() % uint32(n))
}
